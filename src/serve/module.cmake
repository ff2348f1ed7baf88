# serve: libmicrohttpd and jansson come with the core.
#
# The admin client of `fraud models ... --server` uses libcurl.
pkg_check_modules(FR_SERVE_DEPS REQUIRED IMPORTED_TARGET libcurl)
target_link_libraries(fraud_core PUBLIC PkgConfig::FR_SERVE_DEPS)
# The load client (loadgen*.c) parses HTTP responses and URLs with Debian's
# libhttp-parser (package libhttp-parser-dev; no pkg-config file).
find_library(HTTP_PARSER_LIBRARY NAMES http_parser REQUIRED)
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
target_include_directories(fraud_core PRIVATE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(fraud_core PUBLIC ${HTTP_PARSER_LIBRARY})
