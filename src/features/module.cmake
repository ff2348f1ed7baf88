# The Redis state store (state_redis.c) talks to Redis through hiredis.
pkg_check_modules(FR_HIREDIS REQUIRED IMPORTED_TARGET hiredis)
target_link_libraries(fraud_core PUBLIC PkgConfig::FR_HIREDIS)
