/* Keys derived from a key and a 64-bit id, one label per use: the Relay
 * Key and the NMS-TRS link keys (trs_wire.h), the Punch Key (punch_wire.h).
 * A label never names two uses, so no two of them share a key. */
#ifndef CY_DERIVE_H
#define CY_DERIVE_H

#include <stdint.h>

#define DERIVE_KEY_LEN 32

/* HKDF-SHA256(salt = label, IKM = key, info = id, 8 bytes big-endian)
 * -> 32 bytes.  0 or -EIO. */
int derive_key(const char *label, const uint8_t key[DERIVE_KEY_LEN], uint64_t id,
	       uint8_t out[DERIVE_KEY_LEN]);

#endif
