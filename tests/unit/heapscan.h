/* Tests that a secret leaves no copy in freed memory: they look through
 * the brk heap, where glibc's malloc keeps small blocks, freed ones
 * included (a freed block keeps its bytes but its first 16).
 *
 * ASan's allocator does not use the brk heap, and reading freed memory is
 * what it forbids, so under ASan these tests cannot work: HEAPSCAN is 0
 * there and the tests are not registered (the release build runs them),
 * rather than registered and skipped. */
#ifndef CY_TEST_HEAPSCAN_H
#define CY_TEST_HEAPSCAN_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define HEAPSCAN 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAPSCAN 0
#endif
#endif
#ifndef HEAPSCAN
#define HEAPSCAN 1
#endif

/* Keep freed blocks where the scan looks: no trimming, no mmap. */
void heapscan_prepare(void);
/* Whether the len bytes at needle sit anywhere in the brk heap. */
bool heapscan_holds(const void *needle, size_t len);

#endif
