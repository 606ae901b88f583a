/* cy_abuse: hostile clients of the cloud for the network tests and the
 * bench (never installed).
 *
 *   cy_abuse flood ADDR PORT BYTES
 *       TLS without a certificate, then BYTES of 4-byte frames (a header
 *       with no attributes: malformed requests, each answered) as fast as
 *       the AS takes them, never reading.  Stops when BYTES are written,
 *       nothing more is taken for 2 s, or the AS closes; holds the
 *       connection 3 s more, then prints "written N".
 *   cy_abuse guess ADDR PORT NAME COUNT
 *       One TLS connection, COUNT pipelined password Login Requests for
 *       NAME with wrong passwords; reads until the AS closes or 10 s pass.
 *       Prints "responses N results R1,R2,... closed yes|no".
 *   cy_abuse hold ADDR PORT COUNT SECONDS
 *       Opens COUNT plain TCP connections and holds them for SECONDS (no
 *       TLS); prints "open N" with N those still open when the time is up.
 *   cy_abuse drip ADDR PORT SECONDS
 *       One plain TCP connection that sends one byte (of a TLS record
 *       header) a second, as a slow ClientHello would, for up to SECONDS;
 *       prints "closed after N s" when the peer closes it, else "open".
 *   cy_abuse udp ADDR PORT RATE SECONDS
 *       RATE datagrams a second for SECONDS at a UDP port (the NMS): 20 to
 *       1200 random bytes each, every other one with a sealed envelope's
 *       header and a random key id (so the NMS looks the key up and may
 *       send a rate-limited Reject); prints "sent N".
 *
 * The frames are docs/protocol.md's: a 4-byte header (version 1, type,
 * length of the attributes, big-endian), attributes TYPE(2) LEN(2) VALUE. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int tcp_connect(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	int fd;

	if (getaddrinfo(addr, port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static SSL *tls_connect(SSL_CTX **ctx, const char *addr, const char *port)
{
	int fd = tcp_connect(addr, port);
	SSL *ssl;

	if (fd < 0)
		return NULL;
	*ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(*ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(*ctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(*ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

static size_t put_attr(uint8_t *p, uint16_t type, const void *v, uint16_t len)
{
	p[0] = (uint8_t)(type >> 8);
	p[1] = (uint8_t)type;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	memcpy(p + 4, v, len);
	return 4u + len;
}

static int flood(const char *addr, const char *port, long long total)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = tls_connect(&ctx, addr, port);
	static uint8_t chunk[16384];
	long long written = 0;
	int64_t stuck_since = 0;
	int fd;

	if (!ssl)
		return 1;
	for (size_t i = 0; i < sizeof(chunk); i += 4) {
		chunk[i] = 1;     /* version */
		chunk[i + 1] = 1; /* Login Request, no attributes */
		chunk[i + 2] = 0;
		chunk[i + 3] = 0;
	}
	fd = SSL_get_fd(ssl);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (written < total) {
		int n = SSL_write(ssl, chunk, (int)sizeof(chunk));

		if (n > 0) {
			written += n;
			stuck_since = 0;
			continue;
		}
		if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_WRITE &&
		    SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
			break;
		if (!stuck_since)
			stuck_since = now_ms();
		else if (now_ms() - stuck_since > 2000)
			break;
		poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 100);
	}
	sleep(3);
	printf("written %lld\n", written);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return 0;
}

static int guess(const char *addr, const char *port, const char *name, int count)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = tls_connect(&ctx, addr, port);
	uint8_t buf[65536], *p;
	size_t have = 0, len;
	int responses = 0, fd;
	int64_t deadline;
	bool closed = false;

	if (!ssl)
		return 1;
	for (int i = 0; i < count; i++) {
		char pw[32];

		snprintf(pw, sizeof(pw), "wrong-%d", i);
		p = buf + 4;
		p += put_attr(p, 3, name, (uint16_t)strlen(name));    /* NAME */
		p += put_attr(p, 5, pw, (uint16_t)strlen(pw));        /* PASSWORD */
		len = (size_t)(p - buf);
		buf[0] = 1;
		buf[1] = 1;
		buf[2] = (uint8_t)((len - 4) >> 8);
		buf[3] = (uint8_t)(len - 4);
		if (SSL_write(ssl, buf, (int)len) <= 0)
			break;
	}
	fd = SSL_get_fd(ssl);
	deadline = now_ms() + 10000;
	{
		char results[512] = "";
		size_t rl = 0;

		while (now_ms() < deadline) {
			int n;

			if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 200) <= 0 &&
			    !SSL_pending(ssl))
				continue;
			n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - have));
			if (n <= 0) {
				closed = true;
				break;
			}
			have += (size_t)n;
			while (have >= 4) {
				size_t flen = 4u + ((size_t)buf[2] << 8 | buf[3]);
				int result = -1;

				if (have < flen)
					break;
				/* RESULT (type 1) is the first attribute the AS writes */
				if (flen >= 9 && buf[4] == 0 && buf[5] == 1)
					result = buf[8];
				responses++;
				rl += (size_t)snprintf(results + rl, sizeof(results) - rl, "%s%d",
						       rl ? "," : "", result);
				if (rl >= sizeof(results))
					rl = sizeof(results) - 1;
				memmove(buf, buf + flen, have - flen);
				have -= flen;
			}
		}
		printf("responses %d results %s closed %s\n", responses, rl ? results : "-",
		       closed ? "yes" : "no");
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return 0;
}

static int hold(const char *addr, const char *port, int count, int seconds)
{
	int *fds = calloc((size_t)count, sizeof(int)), open_n = 0;
	char b;

	for (int i = 0; i < count; i++)
		fds[i] = tcp_connect(addr, port);
	sleep((unsigned)seconds);
	for (int i = 0; i < count; i++) {
		if (fds[i] < 0)
			continue;
		/* still open: nothing to read and no EOF/reset yet */
		if (recv(fds[i], &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN)
			open_n++;
		close(fds[i]);
	}
	printf("open %d\n", open_n);
	free(fds);
	return 0;
}

static int drip(const char *addr, const char *port, int seconds)
{
	static const uint8_t hdr[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
	int fd = tcp_connect(addr, port);
	int64_t start = now_ms();
	char b;

	if (fd < 0)
		return 1;
	for (int i = 0; i < seconds; i++) {
		if (send(fd, &hdr[i % sizeof(hdr)], 1, MSG_NOSIGNAL) < 0)
			break;
		/* a second, or until the peer closes */
		if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 1000) > 0 &&
		    recv(fd, &b, 1, MSG_DONTWAIT) <= 0)
			break;
		if (i == seconds - 1) {
			printf("open\n");
			close(fd);
			return 0;
		}
	}
	printf("closed after %lld s\n", (long long)((now_ms() - start + 500) / 1000));
	close(fd);
	return 0;
}

static int udp_flood(const char *addr, const char *port, int rate, int seconds)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	uint8_t buf[1200];
	long long sent = 0;
	int64_t start, end;
	int fd;

	if (getaddrinfo(addr, port, &hints, &ai) != 0)
		return 1;
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		return 1;
	freeaddrinfo(ai);
	srand((unsigned)getpid());
	start = now_ms();
	end = start + (int64_t)seconds * 1000;
	while (now_ms() < end) {
		/* keep to RATE: as many as are due by now */
		long long due = (now_ms() - start) * rate / 1000;

		while (sent < due) {
			size_t len = 20 + (size_t)(rand() % 1181);

			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rand();
			if (sent % 2) {
				buf[0] = 1;     /* version */
				buf[1] = 0x80;  /* sealed */
				buf[2] = 0;     /* to the cloud */
				buf[3] = 0;
			}
			if (send(fd, buf, len, 0) < 0 && errno != ECONNREFUSED)
				break;
			sent++;
		}
		usleep(1000);
	}
	printf("sent %lld\n", sent);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);   /* the AS closing on us is an answer, not a crash */
	if (argc == 5 && !strcmp(argv[1], "flood"))
		return flood(argv[2], argv[3], atoll(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "guess"))
		return guess(argv[2], argv[3], argv[4], atoi(argv[5]));
	if (argc == 6 && !strcmp(argv[1], "hold"))
		return hold(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if (argc == 5 && !strcmp(argv[1], "drip"))
		return drip(argv[2], argv[3], atoi(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "udp"))
		return udp_flood(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: cy_abuse flood ADDR PORT BYTES | guess ADDR PORT NAME COUNT | "
			"hold ADDR PORT COUNT SECONDS | drip ADDR PORT SECONDS | udp ADDR PORT RATE SECONDS\n");
	return 2;
}
