# Unit tests of src/store (and the scrypt password hashes it keeps).
cy_unit_test(test_store SOURCES test_store.c LIBS cy_store PkgConfig::SQLITE)
target_include_directories(test_store PRIVATE ${PROJECT_SOURCE_DIR}/src/store)
cy_unit_test(test_pwhash SOURCES test_pwhash.c LIBS cy_proto cy_common)
