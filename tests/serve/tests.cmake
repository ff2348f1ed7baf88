# Script-driven tests of the server: the real `fraud serve` binary over HTTP,
# with bundles trained by the real `fraud train` and references from XGBoost
# itself (python3-xgboost) and from the offline path (`fraud predict`,
# `fraud features`).
set(FRAUD_SERVE_TEST_ENV ${FRAUD_TEST_ENV})

# test_http.c drives the listener with libcurl as its client.
pkg_check_modules(FR_TEST_CURL REQUIRED IMPORTED_TARGET libcurl)
target_link_libraries(serve_test_http PRIVATE PkgConfig::FR_TEST_CURL)

foreach(t server releases lifecycle repository burst release_checks routing servefix routingfix deadline scorecheck redactquery
          inplace httpfix relfix2)
  add_test(NAME serve_${t}_py
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/serve/${t}_test.py
           WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(serve_${t}_py PROPERTIES LABELS serve ENVIRONMENT "${FRAUD_SERVE_TEST_ENV}"
                       TIMEOUT 300)
endforeach()
