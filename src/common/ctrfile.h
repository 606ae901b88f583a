/* A counter's high-water mark kept in a file of its own, for a process
 * with no store (a TRS-only host): the reserve function of a struct
 * cy_ctr (seal.h), with the file's path as its argument.
 *
 * The file holds one decimal number.  A reservation takes an exclusive
 * lock on it, reads the mark, writes start + block and fsyncs before it
 * returns, so a block is never handed out twice, even if the process dies
 * right after. */
#ifndef CY_CTRFILE_H
#define CY_CTRFILE_H

#include <stdint.h>

/* *start = max(mark, at_least); the mark becomes *start + block.  The file
 * is created (0600) when missing.  0, -EINVAL (a file that does not hold
 * a number, block 0, overflow) or -errno. */
int ctrfile_reserve(void *path, uint64_t at_least, uint64_t block, uint64_t *start);

#endif
