# Script-driven tests of `fraud loadgen` and of the benchmark peer
# bench/peers/mhd_fixed.c (built here as a test helper, so the peer the
# benchmark relies on is itself tested): options, exit codes, the JSON report
# checked by Debian's Python, against a real server on an ephemeral port.
add_executable(loadgen_mhd_fixed ${PROJECT_SOURCE_DIR}/bench/peers/mhd_fixed.c)
target_link_libraries(loadgen_mhd_fixed PRIVATE PkgConfig::FR_DEPS Threads::Threads)
add_test(NAME loadgen_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/loadgen/cli_test.sh
                 $<TARGET_FILE:fraud_cli> $<TARGET_FILE:loadgen_mhd_fixed>)
set_tests_properties(loadgen_cli PROPERTIES LABELS loadgen
                     ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 120)
