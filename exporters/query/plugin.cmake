# exporters/query/plugin.cmake — the query exporter links PCRE2 (Debian
# libpcre2-dev) for label-selector regexes (=~, !~) and libdeflate for gzip'ed
# responses; both are also what processors/relabel and libkiln use.
set(KILN_PLUGIN_PKGS libpcre2-8 libdeflate)
