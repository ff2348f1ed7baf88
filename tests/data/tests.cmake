# Script-driven tests of the data module: the CLI subcommands end to end.
add_test(NAME data_cli COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/data/cli_test.sh)
set_tests_properties(data_cli PROPERTIES LABELS data ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 300)
