# serve: libmicrohttpd and jansson come with the core.  The admin client of
# `fraud models ... --server` loads libcurl at run time (dlopen), so only its
# headers are needed here (libcurl4-openssl-dev) and the server binary does
# not link it.
pkg_check_modules(FR_CURL REQUIRED libcurl)
target_include_directories(fraud_core PRIVATE ${FR_CURL_INCLUDE_DIRS})
# The load client (loadgen*.c) parses HTTP responses and URLs with Debian's
# libhttp-parser (package libhttp-parser-dev; no pkg-config file).  The
# static archive is preferred so the fraud binary (and the server image
# built from it) gains no run-time dependency for a client-side feature.
find_library(HTTP_PARSER_LIBRARY NAMES libhttp_parser.a http_parser REQUIRED)
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
target_include_directories(fraud_core PRIVATE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(fraud_core PUBLIC ${HTTP_PARSER_LIBRARY})
# The /v1/score body reader (txnjson.c): yajl's event parser (libyajl-dev)
# and libunistring's strict UTF-8 check (libunistring-dev, no pkg-config
# file).
pkg_check_modules(FR_YAJL REQUIRED IMPORTED_TARGET yajl)
find_library(UNISTRING_LIBRARY NAMES unistring REQUIRED)
find_path(UNISTRING_INCLUDE_DIR unistr.h REQUIRED)
target_include_directories(fraud_core PRIVATE ${UNISTRING_INCLUDE_DIR})
target_link_libraries(fraud_core PUBLIC PkgConfig::FR_YAJL ${UNISTRING_LIBRARY})
