/* Password hashing for ID + password login: scrypt through OpenSSL's
 * EVP_KDF, stored as "$scrypt$ln=N,r=R,p=P$SALT$HASH" (base64).  Only the
 * hash is ever stored; verification is constant-time. */
#ifndef CY_PWHASH_H
#define CY_PWHASH_H

#include <stdbool.h>
#include <stddef.h>

#define PWHASH_MAX 256

/* 0 or -EIO. */
int pwhash_create(const char *password, char out[PWHASH_MAX]);
/* True only when the hash parses and matches. */
bool pwhash_verify(const char *password, const char *hash);

#endif
