# Unit tests of src/cli: the CA, the config writers (read back through the
# daemons' loaders), and the cyphonic binary end to end.
cy_unit_test(test_ca SOURCES test_ca.c LIBS cy_cli)
cy_unit_test(test_cli_conf SOURCES test_cli_conf.c heapscan.c LIBS cy_cli)
cy_unit_test(test_cli SOURCES test_cli.c LIBS cy_cli)
target_compile_definitions(test_cli PRIVATE CYPHONIC_BIN="$<TARGET_FILE:cyphonic>")
add_dependencies(test_cli cyphonic)
