# processors/relabel/plugin.cmake — the relabel processor links PCRE2 (Debian
# libpcre2-dev) for its RE2-syntax regexes; its MD5 (hashmod) is its own.
set(KILN_PLUGIN_PKGS libpcre2-8)
