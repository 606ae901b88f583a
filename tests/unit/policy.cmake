# Unit tests of src/policy: the access policy's parser and decisions.
cy_unit_test(test_policy SOURCES test_policy.c LIBS cy_policy)
