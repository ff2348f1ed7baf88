# The load client (loadgen*.c) parses HTTP responses and URLs with Debian's
# libhttp-parser (package libhttp-parser-dev; no pkg-config file).
find_library(HTTP_PARSER_LIBRARY NAMES http_parser REQUIRED)
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
target_include_directories(fraud_core PRIVATE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(fraud_core PUBLIC ${HTTP_PARSER_LIBRARY})
