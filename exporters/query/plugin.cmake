# exporters/query/plugin.cmake — the query exporter links PCRE2 (Debian
# libpcre2-dev) for label-selector regexes (=~, !~) and libdeflate for gzip'ed
# responses; both are also what processors/relabel and libkiln use.
set(KILN_PLUGIN_PKGS libpcre2-8 libdeflate)

# The web UI (web/ and the npm libraries in web/node_modules) is embedded into
# the plugin: cmake/kiln_ui_embed.cmake writes a C header of byte arrays that
# qstatic.c includes when KILN_QUERY_UI_EMBED is defined. The step runs at
# every build but rewrites the header only when a file it embeds changed (or
# appeared: `npm ci` after a build without network), so the plugin is rebuilt
# only then. Without node_modules the header lists the missing files and /
# answers a page saying how to install them. The plugin's tests compile
# qstatic.c without the define (they bring their own assets).
set(KILN_UI_GEN_DIR ${CMAKE_BINARY_DIR}/gen-ui)
set(KILN_UI_HEADER ${KILN_UI_GEN_DIR}/kiln_query_ui_assets.h)
add_custom_target(${tgt}_ui_assets
  COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${CMAKE_SOURCE_DIR}/web -DOUT=${KILN_UI_HEADER}
          -DLIBS_FROM=${d}/qstatic.c -P ${CMAKE_SOURCE_DIR}/cmake/kiln_ui_embed.cmake
  BYPRODUCTS ${KILN_UI_HEADER}
  COMMENT "web UI assets (web/ -> gen-ui/kiln_query_ui_assets.h)"
  VERBATIM)
add_dependencies(${tgt} ${tgt}_ui_assets)
target_include_directories(${tgt} PRIVATE ${KILN_UI_GEN_DIR})
target_compile_definitions(${tgt} PRIVATE KILN_QUERY_UI_EMBED=1)
