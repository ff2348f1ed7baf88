# Script-driven tests of the data module: the CLI subcommands end to end.
add_test(NAME data_cli COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/data/cli_test.sh)
set_tests_properties(data_cli PROPERTIES LABELS data ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 300)
# The generator's contract: per-entity history finds the fraud scenarios
# that stateless attributes alone do not (XGBoost + scikit-learn PR-AUC).
add_test(NAME data_generator_separability
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/fixtures/data/check_generator.py
                 $<TARGET_FILE:fraud_cli> 100000 --assert)
set_tests_properties(data_generator_separability PROPERTIES LABELS data
                     ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 600)
