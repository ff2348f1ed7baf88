# serve: libmicrohttpd and jansson come with the core; the admin client of
# `fraud models ... --server` uses libcurl.
pkg_check_modules(FR_SERVE_DEPS REQUIRED IMPORTED_TARGET libcurl)
target_link_libraries(fraud_core PUBLIC PkgConfig::FR_SERVE_DEPS)
