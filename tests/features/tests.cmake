# The featurizer benchmark (bench/features, docs/benchmarks-features.md) is a
# plain C program on libfraud, built with the tests so that `make bench`
# (bench/features/run.sh) finds it in the build directory.
if(FRAUD_BUILD_BENCH)
  add_executable(bench_features ${PROJECT_SOURCE_DIR}/bench/features/bench_features.c)
  target_link_libraries(bench_features PRIVATE fraud_core)
endif()

# Online = offline through the real server: /v1/score?explain=features over
# concurrent connections (memory backend; Redis with two servers; restart
# after SIGKILL from a snapshot).  Exit code 77 = skipped: the server lacks
# a capability the test needs (the script says which).
add_test(NAME features_http_parity_py
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/features/http_parity_test.py
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(features_http_parity_py PROPERTIES LABELS features
                     ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 600 SKIP_RETURN_CODE 77)
