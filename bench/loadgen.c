/*
 * Load generator for actornet's benchmarks: one epoll thread, loopback only.
 *
 * Speaks 4-byte big-endian length + payload. Every payload carries a 16-byte
 * header (sequence number, send time in ns) followed by a fill byte derived
 * from the sequence number, and every byte that comes back is checked.
 *
 *   loadgen echo  HOST PORT CONNS INFLIGHT SIZE SECONDS
 *       each connection keeps INFLIGHT frames outstanding; prints round trips
 *       per second and latency percentiles.
 *   loadgen relay HOST PORT CLIENTS SENDERS SIZE SECONDS
 *       SENDERS of the CLIENTS send as fast as the relay accepts (at most 64
 *       frames outstanding each, counted by their own echoes); every client
 *       counts every frame it receives; prints deliveries per second and
 *       delivery latency percentiles.
 *   loadgen chat  HOST PORT CLIENTS SENDERS SIZE SECONDS
 *       the chat protocol (protocols/chat.py): every client sends Hello, then
 *       Join #bench; once all have joined, SENDERS of them send Say with a
 *       SIZE-byte text (at least 32; sender, sequence number and send time in
 *       hex) as fast as the server accepts (at most 64 outstanding each, counted
 *       by their own Said echoes). Every client parses every frame, counts Said
 *       frames as deliveries, checks each sender's order and answers ServerPing;
 *       prints deliveries per second, delivery latency percentiles, and the
 *       chat's own counts (joined, lost, order_errors, rate_limited, stalls).
 *   loadgen irc   HOST PORT CLIENTS SENDERS SIZE SECONDS [WINDOW]
 *       IRC: every client registers (NICK bN, USER) and joins #bench; once all
 *       are in, SENDERS of them send "PRIVMSG #bench :TEXT" with a SIZE-byte
 *       TEXT (at least 48: sequence number, send time, fill) as fast as the
 *       server relays them, at most WINDOW (default 64) each not yet received
 *       by every other client. Every client parses every line, counts each
 *       PRIVMSG as a delivery, checks each sender's order and answers PING;
 *       prints chat mode's fields (without rate_limited) plus pings and
 *       cpu_pct. See "irc mode" below.
 *   loadgen irc-idle HOST PORT CLIENTS HOLD_SECONDS
 *       registers CLIENTS IRC clients, 50 to a channel (#idle0, #idle1, ...),
 *       prints "joined=N errors=E" once all are in, then holds them for
 *       HOLD_SECONDS (answering PINGs) so the server's memory can be read.
 *   loadgen idle  HOST PORT CONNS HOLD_SECONDS
 *       opens CONNS connections, then one echo on each; holds them open for
 *       HOLD_SECONDS (so the server's memory can be read) and prints how many
 *       answered.
 *   loadgen ws    HOST PORT CONNS INFLIGHT SIZE SECONDS [PATH [PROTOCOL]]
 *       WebSocket echo (RFC 6455, no extensions): CONNS connections upgrade at
 *       PATH (default /, asking for subprotocol PROTOCOL if given and not
 *       empty), then each keeps INFLIGHT masked binary messages of SIZE bytes
 *       (at least 16) outstanding; every echoed byte is checked against what
 *       was sent. Unlike the modes above it stops at the first fault with a
 *       message on stderr and exit status 1; see "ws mode" below.
 *
 *   loadgen tls-echo HOST PORT CONNS INFLIGHT SIZE SECONDS [SERVER_PID]
 *       echo mode over TLS (any version the server offers, the certificate not
 *       checked: loopback only): each connection completes its handshake, one
 *       after the other, before the clock starts. Given SERVER_PID (echo and
 *       relay take it too), it also prints the CPU seconds the server
 *       (server_cpu_s) and the load generator (cpu_s) used while the clock ran,
 *       so that connecting is not counted.
 *   loadgen tls-handshakes HOST PORT CONCURRENCY SECONDS
 *       full TLS handshakes (no session resumption), CONCURRENCY of them in
 *       flight at once: each connection is closed as soon as it is
 *       established and a new one takes its place; prints handshakes per
 *       second and handshake latency percentiles (connect to established).
 *   loadgen tls-echo-server PORT CERT_CHAIN KEY
 *       a TLS echo server on 127.0.0.1:PORT in C (one epoll thread, every
 *       byte read written back): the ceiling of the TLS benchmarks. Prints
 *       "listening" once it accepts, then runs until killed.
 *
 * Output: one line of key=value pairs; "errors=N" counts corrupt or unexpected
 * bytes and failed connections. Build: cc -O2 -o loadgen loadgen.c, or with the
 * TLS modes (OpenSSL's headers: Debian's libssl-dev):
 * cc -O2 -DLOADGEN_TLS -o loadgen loadgen.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef LOADGEN_TLS
#include <fcntl.h>
#include <signal.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define HEADER 16
#define MAX_EVENTS 1024
#define RELAY_WINDOW 64
#define LAT_SAMPLES 2000000

typedef struct {
    int fd;
    unsigned char *in;
    size_t in_len, in_cap;
    unsigned char *out;
    size_t out_len, out_off, out_cap;
    uint64_t next_seq;     /* next sequence number to send */
    uint64_t expect_seq;   /* echo: next sequence number expected back */
    int sender;
    int answered;
    void *tls;             /* the connection's SSL in the TLS modes, else NULL */
} conn_t;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU seconds (user + system) used so far by process `pid` (0: this process), or -1. */
static double cpu_seconds_of(int pid) {
    if (pid == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1.0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    /* After the name: state, then fields 4-13, then utime and stime (fields 14, 15). */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &utime, &stime) != 2)
        return -1.0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t *lat;
static size_t lat_n;
static uint64_t errors;

static void record_latency(uint64_t ns) {
    if (lat_n < LAT_SAMPLES) lat[lat_n++] = ns;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_us(double p) {
    if (lat_n == 0) return 0.0;
    size_t i = (size_t)(p * (double)(lat_n - 1));
    return (double)lat[i] / 1000.0;
}

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get_u32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void reserve(unsigned char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t cap2 = *cap ? *cap : 4096;
    while (cap2 < need) cap2 *= 2;
    *buf = realloc(*buf, cap2);
    if (!*buf) { perror("realloc"); exit(2); }
    *cap = cap2;
}

/* Queue one frame: u32 length, u64 seq, u64 send time, fill bytes. */
static void queue_frame(conn_t *c, size_t size, uint64_t seq) {
    reserve(&c->out, &c->out_cap, c->out_len + 4 + size);
    unsigned char *p = c->out + c->out_len;
    put_u32(p, (uint32_t)size);
    uint64_t t = now_ns();
    memcpy(p + 4, &seq, 8);
    memcpy(p + 12, &t, 8);
    memset(p + 4 + HEADER, (int)(seq & 0xff), size - HEADER);
    c->out_len += 4 + size;
}

#ifdef LOADGEN_TLS
/* An SSL_read or SSL_write result as recv and send give theirs: bytes moved, 0 at
 * the peer's close_notify, -1 with errno EAGAIN when it would block. */
static ssize_t tls_result(SSL *ssl, int r) {
    if (r > 0) return r;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) { errno = EAGAIN; return -1; }
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    errno = EIO;
    return -1;
}
#endif

/* One recv on a plain or TLS connection, with recv's results. */
static ssize_t conn_recv(conn_t *c, void *buf, size_t len) {
#ifdef LOADGEN_TLS
    if (c->tls) return tls_result(c->tls, SSL_read(c->tls, buf, (int)len));
#endif
    return recv(c->fd, buf, len, 0);
}

/* One send on a plain or TLS connection, with send's results. */
static ssize_t conn_send(conn_t *c, const void *buf, size_t len) {
#ifdef LOADGEN_TLS
    if (c->tls) return tls_result(c->tls, SSL_write(c->tls, buf, (int)len));
#endif
    return send(c->fd, buf, len, MSG_NOSIGNAL);
}

static int flush_out(conn_t *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = conn_send(c, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return 0;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

static int open_conn(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Check one received frame; returns its sequence number, or UINT64_MAX if corrupt. */
static uint64_t check_frame(const unsigned char *payload, size_t size, uint64_t *sent_at) {
    if (size < HEADER) return UINT64_MAX;
    uint64_t seq;
    memcpy(&seq, payload, 8);
    memcpy(sent_at, payload + 8, 8);
    for (size_t i = HEADER; i < size; i++)
        if (payload[i] != (unsigned char)(seq & 0xff)) return UINT64_MAX;
    return seq;
}

/* ---- chat mode: protocols/chat.py over loopback ---------------------------
 *
 * Frames are u32 BE payload length, then tag u8 and the message's fields
 * (Str8 = u8 length + UTF-8, Str16 = u16 BE length + UTF-8, integers BE).
 * Each client sends Hello, then Join once it has its Welcome; when every client
 * has seen its own Joined (or after CHAT_SETUP_NS) and CHAT_SETTLE_NS more, the
 * clock starts and the first SENDERS clients each keep up to CHAT_WINDOW Says
 * outstanding, counted by their own Said echoes. The text of a Say is SIZE bytes:
 * 4 hex digits sender index, 12 hex digits sequence number, 16 hex digits send
 * time (CLOCK_MONOTONIC ns), then a fill letter derived from the sequence number.
 */
#define CHAT_WINDOW 64
#define CHAT_TEXT_MIN 32
#define CHAT_LAT_SAMPLES 8000000
#define CHAT_SETUP_NS (20ull * 1000000000ull)
#define CHAT_SETTLE_NS (300ull * 1000000ull)
#define CHAT_STALL_NS (1000ull * 1000000ull)
#define CHAT_ROOM "#bench"
#define CHAT_RATE_LIMITED 12

typedef struct {
    conn_t c;
    char nick[16];
    size_t nick_len;
    int index;
    int state;              /* 0: Hello queued, 1: Join sent, 2: joined */
    int dead;
    int rate_limited_seen;
    uint64_t acked;         /* sender: own sequence numbers below this are settled */
    uint64_t last_progress; /* sender: when its window last moved */
    uint64_t *seen;         /* per sender: last sequence number received + 1 */
} chat_t;

static size_t chat_lat_n;
static uint64_t chat_lost, chat_order_errors, chat_rate_limited, chat_stalls;
static int chat_error_reports;

static void chat_error(const char *what) {
    errors++;
    if (chat_error_reports++ < 5) fprintf(stderr, "loadgen chat: %s\n", what);
}

static void queue_payload(conn_t *c, const unsigned char *payload, size_t len) {
    reserve(&c->out, &c->out_cap, c->out_len + 4 + len);
    put_u32(c->out + c->out_len, (uint32_t)len);
    memcpy(c->out + c->out_len + 4, payload, len);
    c->out_len += 4 + len;
}

static void chat_hello(chat_t *k) {
    unsigned char p[3 + 16];
    p[0] = 0x01; p[1] = 1; p[2] = (unsigned char)k->nick_len;
    memcpy(p + 3, k->nick, k->nick_len);
    queue_payload(&k->c, p, 3 + k->nick_len);
}

static void chat_join(chat_t *k) {
    unsigned char p[2 + sizeof CHAT_ROOM];
    p[0] = 0x03; p[1] = (unsigned char)(sizeof CHAT_ROOM - 1);
    memcpy(p + 2, CHAT_ROOM, sizeof CHAT_ROOM - 1);
    queue_payload(&k->c, p, 2 + sizeof CHAT_ROOM - 1);
}

static void chat_say(chat_t *k, size_t size) {
    size_t room = sizeof CHAT_ROOM - 1;
    size_t len = 1 + 1 + room + 2 + size;
    conn_t *c = &k->c;
    reserve(&c->out, &c->out_cap, c->out_len + 4 + len + 1);
    unsigned char *p = c->out + c->out_len;
    uint64_t seq = c->next_seq++;
    put_u32(p, (uint32_t)len);
    p += 4;
    *p++ = 0x05;
    *p++ = (unsigned char)room;
    memcpy(p, CHAT_ROOM, room);
    p += room;
    *p++ = (unsigned char)(size >> 8);
    *p++ = (unsigned char)size;
    /* snprintf writes a terminating NUL one past the 32 digits: reserved above. */
    snprintf((char *)p, CHAT_TEXT_MIN + 1, "%04x%012llx%016llx", (unsigned)k->index & 0xffff,
             (unsigned long long)(seq & 0xffffffffffffull), (unsigned long long)now_ns());
    memset(p + CHAT_TEXT_MIN, 'a' + (int)(seq % 26), size - CHAT_TEXT_MIN);
    c->out_len += 4 + len;
}

static void chat_pong(chat_t *k, uint32_t token) {
    unsigned char p[5];
    p[0] = 0x0B;
    put_u32(p + 1, token);
    queue_payload(&k->c, p, 5);
}

/* Bounds-checked field readers over one payload; each returns 0 when truncated. */
static int take(size_t *off, size_t len, size_t n) {
    if (len - *off < n) return 0;
    *off += n;
    return 1;
}

static int take_str8(const unsigned char *p, size_t *off, size_t len,
                     const unsigned char **s, size_t *n) {
    if (len - *off < 1) return 0;
    *n = p[*off];
    *s = p + *off + 1;
    return take(off, len, 1 + *n);
}

static int take_str16(const unsigned char *p, size_t *off, size_t len,
                      const unsigned char **s, size_t *n) {
    if (len - *off < 2) return 0;
    *n = ((size_t)p[*off] << 8) | p[*off + 1];
    *s = p + *off + 2;
    return take(off, len, 2 + *n);
}

static int hex_field(const unsigned char *s, int digits, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < digits; i++) {
        unsigned char ch = s[i];
        int d;
        if (ch >= '0' && ch <= '9') d = ch - '0';
        else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
        else return 0;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 1;
}

/* One Said: count it, time it, check its sender's order; a sender's own echo
 * opens its window. Returns 0 if the text is not one of ours. */
static int chat_said(chat_t *cs, chat_t *k, int senders, size_t size,
                     const unsigned char *nick, size_t nick_len,
                     const unsigned char *text, size_t text_len, int measuring,
                     uint64_t *count) {
    uint64_t sender, seq, sent_at;
    if (text_len != size || !hex_field(text, 4, &sender) || !hex_field(text + 4, 12, &seq) ||
        !hex_field(text + 16, 16, &sent_at))
        return 0;
    if (sender >= (uint64_t)senders) return 0;
    chat_t *from = &cs[sender];
    if (nick_len != from->nick_len || memcmp(nick, from->nick, nick_len) != 0) return 0;
    for (size_t i = CHAT_TEXT_MIN; i < size; i++)
        if (text[i] != (unsigned char)('a' + (int)(seq % 26))) return 0;
    uint64_t last = k->seen[sender];
    if (seq + 1 <= last) {
        chat_order_errors++;
        chat_error("a sender's Said arrived out of order or twice");
    } else {
        chat_lost += seq - last; /* sequence numbers skipped: dropped by the server */
        k->seen[sender] = seq + 1;
    }
    if (measuring) {
        (*count)++;
        if (chat_lat_n < CHAT_LAT_SAMPLES) lat[chat_lat_n++] = now_ns() - sent_at;
    }
    if (k == from && seq + 1 > k->acked) {
        k->acked = seq + 1;
        k->last_progress = now_ns();
    }
    return 1;
}

/* Parse one frame; returns 0 if it is malformed. */
static int chat_frame(chat_t *cs, chat_t *k, int senders, size_t size, const unsigned char *p,
                      size_t len, int measuring, uint64_t *count, int *joined) {
    const unsigned char *a, *b, *s;
    size_t an, bn, sn, off = 1;
    if (len < 1) return 0;
    switch (p[0]) {
    case 0x81: /* Welcome: version u8, nick Str8, server Str8 */
        if (!take(&off, len, 1) || !take_str8(p, &off, len, &a, &an) ||
            !take_str8(p, &off, len, &b, &bn) || off != len)
            return 0;
        if (k->state == 0) {
            k->state = 1;
            chat_join(k);
        }
        return 1;
    case 0x83: /* Joined: room Str8, nick Str8 */
        if (!take_str8(p, &off, len, &a, &an) || !take_str8(p, &off, len, &b, &bn) || off != len)
            return 0;
        if (k->state == 1 && bn == k->nick_len && memcmp(b, k->nick, bn) == 0) {
            k->state = 2;
            (*joined)++;
        }
        return 1;
    case 0x85: /* Said: room Str8, nick Str8, text Str16, time_ms u64 */
        if (!take_str8(p, &off, len, &a, &an) || !take_str8(p, &off, len, &b, &bn) ||
            !take_str16(p, &off, len, &s, &sn) || !take(&off, len, 8) || off != len)
            return 0;
        if (!chat_said(cs, k, senders, size, b, bn, s, sn, measuring, count))
            chat_error("a Said frame whose text is not one of ours");
        return 1;
    case 0x8C: /* ServerPing: token u32 */
        if (len != 5) return 0;
        chat_pong(k, get_u32(p + 1));
        return 1;
    case 0x8F: /* Error: code u16, subject Str8, detail Str16 */
        if (!take(&off, len, 2) || !take_str8(p, &off, len, &a, &an) ||
            !take_str16(p, &off, len, &s, &sn) || off != len)
            return 0;
        if (((p[1] << 8) | p[2]) == CHAT_RATE_LIMITED) {
            chat_rate_limited++;
            k->rate_limited_seen = 1;
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "server Error %d: %.*s", (p[1] << 8) | p[2],
                     (int)(sn > 120 ? 120 : sn), (const char *)s);
            chat_error(msg);
        }
        return 1;
    default:
        /* NickChanged .. NamesEnd: not this benchmark's business. */
        return p[0] >= 0x82 && p[0] <= 0x91;
    }
}

static void chat_drop(int ep, chat_t *k) {
    if (k->dead) return;
    k->dead = 1;
    epoll_ctl(ep, EPOLL_CTL_DEL, k->c.fd, NULL);
    close(k->c.fd);
}

static void chat_refill(chat_t *k, size_t size) {
    if (k->dead) return;
    while (k->c.next_seq - k->acked < CHAT_WINDOW) chat_say(k, size);
}

/* Read everything available on one client and handle every whole frame. */
static void chat_read(int ep, chat_t *cs, chat_t *k, int senders, size_t size, int measuring,
                      uint64_t *count, int *joined) {
    conn_t *c = &k->c;
    for (;;) {
        reserve(&c->in, &c->in_cap, c->in_len + 65536);
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            chat_error("recv failed");
            chat_drop(ep, k);
            return;
        }
        if (r == 0) {
            chat_error("the server closed a connection");
            chat_drop(ep, k);
            return;
        }
        c->in_len += (size_t)r;
    }
    size_t off = 0;
    while (c->in_len - off >= 4) {
        uint32_t len = get_u32(c->in + off);
        if (len > 8192) {
            chat_error("a frame over 8192 bytes");
            chat_drop(ep, k);
            return;
        }
        if (c->in_len - off < 4 + (size_t)len) break;
        if (!chat_frame(cs, k, senders, size, c->in + off + 4, len, measuring, count, joined))
            chat_error("a malformed frame");
        off += 4 + len;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static int run_chat(const char *host, int port, int conns, int senders, size_t size,
                    double seconds) {
    if (size < CHAT_TEXT_MIN) size = CHAT_TEXT_MIN;
    if (size > 1000) size = 1000; /* the chat's longest text */
    if (conns < 1) conns = 1;
    if (conns > 9999) conns = 9999;
    if (senders > conns) senders = conns;
    if (senders < 0) senders = 0;
    lat = malloc(sizeof(uint64_t) * CHAT_LAT_SAMPLES);
    int ep = epoll_create1(0);
    chat_t *cs = calloc((size_t)conns, sizeof(chat_t));
    if (!lat || !cs || ep < 0) { perror("setup"); return 2; }
    int live = 0;
    for (int i = 0; i < conns; i++) {
        chat_t *k = &cs[i];
        k->index = i;
        k->nick_len = (size_t)snprintf(k->nick, sizeof k->nick, "u%d", i);
        k->seen = calloc((size_t)(senders ? senders : 1), sizeof(uint64_t));
        k->c.fd = open_conn(host, port);
        if (k->c.fd < 0) { chat_error("connect failed"); k->dead = 1; continue; }
        live++;
        chat_hello(k); /* flushed when the connection is writable */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, k->c.fd, &ev);
    }

    struct epoll_event events[MAX_EVENTS];
    uint64_t count = 0;
    int joined = 0;
    int measuring = 0;
    uint64_t t0 = now_ns();
    uint64_t settle_until = 0, started = 0, deadline = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (!settle_until && (joined >= live || t - t0 >= CHAT_SETUP_NS)) {
            settle_until = t + CHAT_SETTLE_NS;
        }
        if (settle_until && !measuring && t >= settle_until) {
            /* Everyone is in the room: start the clock, fill every sender's window. */
            measuring = 1;
            started = now_ns();
            deadline = started + (uint64_t)(seconds * 1e9);
            for (int i = 0; i < senders; i++) {
                cs[i].last_progress = started;
                if (cs[i].state != 2) continue;
                chat_refill(&cs[i], size);
                if (!cs[i].dead && flush_out(&cs[i].c) < 0) {
                    chat_error("send failed");
                    chat_drop(ep, &cs[i]);
                }
            }
        }
        if (measuring && t >= deadline) break;
        if (measuring) {
            /* The server drops rate-limited Says without a word per Say: after a
             * second without an echo, a sender that has been told so gives up on
             * its outstanding ones (counted as lost by every receiver). */
            for (int i = 0; i < senders; i++) {
                chat_t *k = &cs[i];
                if (k->dead || k->state != 2 || !k->rate_limited_seen) continue;
                if (k->c.next_seq > k->acked && t - k->last_progress >= CHAT_STALL_NS) {
                    chat_stalls++;
                    k->acked = k->c.next_seq;
                    k->last_progress = t;
                    chat_refill(k, size);
                    if (flush_out(&k->c) < 0) { chat_error("send failed"); chat_drop(ep, k); }
                }
            }
        }
        int n = epoll_wait(ep, events, MAX_EVENTS, 20);
        for (int e = 0; e < n; e++) {
            chat_t *k = &cs[events[e].data.u32];
            if (k->dead) continue;
            if ((events[e].events & EPOLLOUT) && flush_out(&k->c) < 0) {
                chat_error("send failed");
                chat_drop(ep, k);
                continue;
            }
            if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                chat_read(ep, cs, k, senders, size, measuring, &count, &joined);
            }
            if (measuring && k->index < senders && k->state == 2) chat_refill(k, size);
            if (!k->dead && flush_out(&k->c) < 0) {
                chat_error("send failed");
                chat_drop(ep, k);
            }
        }
    }
    double elapsed = (double)(now_ns() - started) / 1e9;
    lat_n = chat_lat_n;
    qsort(lat, lat_n, sizeof(uint64_t), cmp_u64);
    printf("rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f count=%llu errors=%llu joined=%d "
           "lost=%llu "
           "order_errors=%llu rate_limited=%llu stalls=%llu\n",
           (double)count / elapsed, percentile_us(0.50), percentile_us(0.99), percentile_us(1.0),
           (unsigned long long)count, (unsigned long long)errors, joined,
           (unsigned long long)chat_lost, (unsigned long long)chat_order_errors,
           (unsigned long long)chat_rate_limited, (unsigned long long)chat_stalls);
    for (int i = 0; i < conns; i++)
        if (!cs[i].dead) close(cs[i].c.fd);
    return 0;
}

/* ---- ws mode: WebSocket echo (RFC 6455) over loopback ---------------------
 *
 * Every connection sends an HTTP/1.1 upgrade request (its own random
 * Sec-WebSocket-Key, version 13, no extensions offered, an optional
 * subprotocol) and checks the answer: status 101, Upgrade: websocket,
 * Connection: upgrade, Sec-WebSocket-Accept equal to base64(SHA-1(key + GUID))
 * computed here, the subprotocol echoed if one was asked for and none
 * otherwise, no Sec-WebSocket-Extensions. The clock starts once every
 * connection is open (at most WS_HANDSHAKE_NS after the first connect).
 *
 * Then each connection keeps INFLIGHT binary messages outstanding, each one
 * unfragmented client frame of SIZE payload bytes, masked with a fresh key
 * from a xorshift PRNG. A payload is its sequence number (u64), its send time
 * (u64 ns) and PRNG bytes; the unmasked payload stays in a per-connection slot
 * until its echo comes back. Echoes must arrive in order, as binary messages
 * of exactly SIZE bytes in unmasked, RSV-clear frames, and each is compared
 * byte for byte (memcmp) with its slot. Frames are parsed from a
 * per-connection buffer, so frames split across reads and several frames in
 * one read are both handled; lengths use the 7-bit, 16-bit or 64-bit form. An
 * echo may come back fragmented (reassembled first, control frames allowed in
 * between; counted in "fragmented"). Pings are answered with masked pongs and
 * pongs are ignored.
 *
 * After SECONDS no new message is sent and every one still in flight must
 * come back (checked the same way, not counted) within WS_DRAIN_NS; then each
 * connection sends a close frame (1000) and waits up to WS_CLOSE_NS for the
 * server's close frame or EOF, which is not checked further.
 *
 * Anything else fails the run at once: a message on stderr and exit status 1
 * (a mismatched byte, with its offset and both values; a close frame, with its
 * code; a text frame or a stray continuation frame; a masked server frame; the
 * server closing or resetting a connection; a failed handshake; messages that
 * never came back). A successful run prints the echo mode's fields (errors is
 * then always 0; rate and latencies cover the SECONDS only) plus handshake_ms
 * (time to open every connection), silent (connections that got no echo
 * during the SECONDS), cpu_pct (this process's CPU time during the SECONDS
 * as a share of them) and fragmented (echoes that came back in several frames).
 */
#define WS_HANDSHAKE_NS (30ull * 1000000000ull)
#define WS_DRAIN_NS (5ull * 1000000000ull)
#define WS_CLOSE_NS (2ull * 1000000000ull)
#define WS_MAX_RESPONSE 8192
#define WS_MAX_SIZE (16u * 1024u * 1024u)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct {
    conn_t c;
    int index;
    int open;                /* 1 once the 101 response has been checked */
    char key[25];            /* base64 of 16 random bytes */
    char accept[29];         /* the Sec-WebSocket-Accept it must get back */
    unsigned char *slots;    /* INFLIGHT payloads of SIZE bytes awaiting their echo */
    uint64_t echoes;
    unsigned char *msg;      /* a fragmented echo being reassembled */
    size_t msg_len, msg_cap;
    int in_msg;
    int closed;              /* closing phase: the server's close frame or EOF arrived */
    int want_out;            /* EPOLLOUT is in its epoll interest (output is pending) */
} ws_t;

static int ws_ep = -1;
static uint64_t ws_fragmented;

/* Closing phase: the connection is done with, whatever the reason. */
static void ws_closed(ws_t *w) {
    w->closed = 1;
    epoll_ctl(ws_ep, EPOLL_CTL_DEL, w->c.fd, NULL);
}

/* Phases of a run: every connection goes through them together. */
enum { WS_HANDSHAKE, WS_MEASURE, WS_DRAIN, WS_CLOSING };
static int ws_phase = WS_HANDSHAKE;
static uint64_t ws_rng_state;

static uint64_t ws_rng(void) {
    uint64_t x = ws_rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return ws_rng_state = x;
}

__attribute__((noreturn, format(printf, 1, 2))) static void ws_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen ws: FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const unsigned char *data, size_t len, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    size_t total = ((len + 8) / 64 + 1) * 64;
    unsigned char *msg = calloc(total, 1);
    if (!msg) { perror("calloc"); exit(2); }
    memcpy(msg, data, len);
    msg[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) msg[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++) w[i] = get_u32(msg + off + 4 * (size_t)i);
        for (int i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
            uint32_t t = rol32(a, 5) + f + e + k + w[i];
            e = d; d = c; c = rol32(b, 30); b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    for (int i = 0; i < 5; i++) put_u32(out + 4 * i, h[i]);
    free(msg);
}

/* Base64 of len bytes into out (4 * ceil(len / 3) + 1 bytes, NUL-terminated). */
static void base64(const unsigned char *in, size_t len, char *out) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), 28 characters. */
static void ws_accept_for(const char *key, char out[29]) {
    char joined[64 + sizeof WS_GUID];
    size_t n = (size_t)snprintf(joined, sizeof joined, "%s%s", key, WS_GUID);
    unsigned char digest[20];
    sha1((const unsigned char *)joined, n, digest);
    base64(digest, 20, out);
}

/* Queue one masked client frame (FIN set) with a fresh masking key. */
static void ws_queue_frame(conn_t *c, int opcode, const unsigned char *payload, size_t len) {
    reserve(&c->out, &c->out_cap, c->out_len + 14 + len);
    unsigned char *p = c->out + c->out_len;
    size_t h = 0;
    p[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        p[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        p[h++] = 0x80 | 126;
        p[h++] = (unsigned char)(len >> 8);
        p[h++] = (unsigned char)len;
    } else {
        p[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) p[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    uint32_t key32 = (uint32_t)ws_rng();
    unsigned char mask[4];
    memcpy(mask, &key32, 4);
    memcpy(p + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) p[h + i] = payload[i] ^ mask[i & 3];
    c->out_len += h + len;
}

/* Build the next message in its slot and queue it. */
static void ws_send_message(ws_t *w, size_t size, int inflight) {
    conn_t *c = &w->c;
    uint64_t seq = c->next_seq++;
    unsigned char *payload = w->slots + (size_t)(seq % (uint64_t)inflight) * size;
    uint64_t t = now_ns();
    memcpy(payload, &seq, 8);
    memcpy(payload + 8, &t, 8);
    for (size_t i = HEADER; i < size; i += 8) {
        uint64_t r = ws_rng();
        memcpy(payload + i, &r, size - i < 8 ? size - i : 8);
    }
    ws_queue_frame(c, 0x2, payload, size);
}

static void ws_queue_request(ws_t *w, const char *host, int port, const char *path,
                             const char *protocol) {
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = ws_rng();
        memcpy(raw + i, &r, 8);
    }
    base64(raw, 16, w->key);
    ws_accept_for(w->key, w->accept);
    char request[2048];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%d\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s%s%s"
                     "\r\n",
                     path, host, port, w->key, protocol ? "Sec-WebSocket-Protocol: " : "",
                     protocol ? protocol : "", protocol ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof request) ws_fail("the upgrade request is too long");
    conn_t *c = &w->c;
    reserve(&c->out, &c->out_cap, c->out_len + (size_t)n);
    memcpy(c->out + c->out_len, request, (size_t)n);
    c->out_len += (size_t)n;
}

static const char *skip_space(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    return s;
}

/* Does a comma-separated header value contain `token` (case-insensitive)? */
static int has_token(const char *v, size_t n, const char *token) {
    size_t tn = strlen(token);
    const char *end = v + n;
    while (v < end) {
        v = skip_space(v, end);
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *stop = comma ? comma : end;
        const char *last = stop;
        while (last > v && (last[-1] == ' ' || last[-1] == '\t')) last--;
        if ((size_t)(last - v) == tn && strncasecmp(v, token, tn) == 0) return 1;
        v = comma ? comma + 1 : end;
    }
    return 0;
}

/* Check the response head (up to and excluding the blank line); fails the run if wrong. */
static void ws_check_response(const ws_t *w, const char *head, size_t n, const char *protocol) {
    const char *end = head + n;
    const char *eol = memmem(head, n, "\r\n", 2);
    if (!eol) eol = end;
    if (eol - head < 12 || memcmp(head, "HTTP/1.1 101", 12) != 0)
        ws_fail("connection %d: the upgrade was answered \"%.*s\", not HTTP/1.1 101", w->index,
                (int)(eol - head > 200 ? 200 : eol - head), head);
    int upgrade = 0, connection = 0, accept = 0, proto = 0;
    const char *line = eol;
    while (line < end) {
        line += 2; /* past CRLF */
        if (line >= end) break;
        const char *next = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (!next) next = end;
        const char *colon = memchr(line, ':', (size_t)(next - line));
        if (colon) {
            size_t name_len = (size_t)(colon - line);
            const char *v = skip_space(colon + 1, next);
            const char *ve = next;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            size_t vn = (size_t)(ve - v);
#define NAME_IS(s) (name_len == sizeof(s) - 1 && strncasecmp(line, s, name_len) == 0)
            if (NAME_IS("Upgrade")) {
                upgrade = vn == 9 && strncasecmp(v, "websocket", 9) == 0;
            } else if (NAME_IS("Connection")) {
                connection = has_token(v, vn, "upgrade");
            } else if (NAME_IS("Sec-WebSocket-Accept")) {
                if (vn != 28 || memcmp(v, w->accept, 28) != 0)
                    ws_fail("connection %d: Sec-WebSocket-Accept is \"%.*s\" for key %s; "
                            "expected \"%s\"", w->index, (int)(vn > 64 ? 64 : vn), v, w->key,
                            w->accept);
                accept = 1;
            } else if (NAME_IS("Sec-WebSocket-Protocol")) {
                if (!protocol || strlen(protocol) != vn || memcmp(v, protocol, vn) != 0)
                    ws_fail("connection %d: the server chose subprotocol \"%.*s\"; asked for %s",
                            w->index, (int)(vn > 64 ? 64 : vn), v, protocol ? protocol : "none");
                proto = 1;
            } else if (NAME_IS("Sec-WebSocket-Extensions")) {
                ws_fail("connection %d: the server enabled extensions \"%.*s\"; none were offered",
                        w->index, (int)(vn > 64 ? 64 : vn), v);
            }
#undef NAME_IS
        }
        line = next;
    }
    if (!upgrade) ws_fail("connection %d: the 101 response lacks Upgrade: websocket", w->index);
    if (!connection) ws_fail("connection %d: the 101 response lacks Connection: upgrade", w->index);
    if (!accept) ws_fail("connection %d: the 101 response lacks Sec-WebSocket-Accept", w->index);
    if (protocol && !proto)
        ws_fail("connection %d: subprotocol %s was asked for but not chosen", w->index, protocol);
}

/* One complete binary echo: compare it with its slot, time it, send the next message. */
static void ws_echo(ws_t *w, const unsigned char *payload, size_t len, size_t size, int inflight,
                    uint64_t *count) {
    conn_t *c = &w->c;
    uint64_t seq = c->expect_seq;
    if (seq >= c->next_seq)
        ws_fail("connection %d: a %zu-byte message arrived with none outstanding (after %llu "
                "echoes)", w->index, len, (unsigned long long)w->echoes);
    if (len != size)
        ws_fail("connection %d: the echo of message %llu is %zu bytes; %zu were sent", w->index,
                (unsigned long long)seq, len, size);
    const unsigned char *sent = w->slots + (size_t)(seq % (uint64_t)inflight) * size;
    if (memcmp(payload, sent, size) != 0) {
        size_t i = 0;
        while (payload[i] == sent[i]) i++;
        if (i < 8) {
            uint64_t got;
            memcpy(&got, payload, 8);
            ws_fail("connection %d: the echo of message %llu is not that message: its sequence "
                    "number reads %llu (a message lost, repeated or reordered, or corrupt bytes)",
                    w->index, (unsigned long long)seq, (unsigned long long)got);
        }
        ws_fail("connection %d: the echo of message %llu differs from what was sent at byte "
                "%zu of %zu: sent 0x%02x, got 0x%02x", w->index, (unsigned long long)seq, i,
                size, sent[i], payload[i]);
    }
    uint64_t sent_at;
    memcpy(&sent_at, sent + 8, 8);
    c->expect_seq++;
    w->echoes++;
    if (ws_phase != WS_MEASURE) return; /* draining: checked, not counted */
    (*count)++;
    record_latency(now_ns() - sent_at);
    ws_send_message(w, size, inflight);
}

/* Handle every whole frame in the connection's buffer; keep a partial one for later. */
static void ws_frames(ws_t *w, size_t size, int inflight, uint64_t *count) {
    conn_t *c = &w->c;
    size_t off = 0;
    for (;;) {
        const unsigned char *p = c->in + off;
        size_t avail = c->in_len - off;
        if (avail < 2) break;
        size_t hlen = 2;
        uint64_t len = p[1] & 0x7f;
        if (p[1] & 0x80) ws_fail("connection %d: the server sent a masked frame", w->index);
        if (len == 126) {
            if (avail < 4) break;
            len = ((uint64_t)p[2] << 8) | p[3];
            hlen = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
            hlen = 10;
        }
        if (len > WS_MAX_SIZE)
            ws_fail("connection %d: a frame of %llu bytes (at most %u expected)", w->index,
                    (unsigned long long)len, WS_MAX_SIZE);
        if (avail - hlen < len) break;
        const unsigned char *payload = p + hlen;
        int fin = p[0] & 0x80, opcode = p[0] & 0x0f;
        if (p[0] & 0x70)
            ws_fail("connection %d: a frame with RSV bits set (0x%02x); no extension was "
                    "negotiated", w->index, p[0]);
        switch (opcode) {
        case 0x2:
            if (w->in_msg)
                ws_fail("connection %d: a new message began inside a fragmented one", w->index);
            if (fin) {
                ws_echo(w, payload, (size_t)len, size, inflight, count);
                break;
            }
            w->in_msg = 1;
            w->msg_len = 0;
            __attribute__((fallthrough)); /* the first fragment's payload */
        case 0x0:
            if (!w->in_msg)
                ws_fail("connection %d: a continuation frame with no fragmented message", w->index);
            if (w->msg_len + len > size)
                ws_fail("connection %d: the fragments of the echo of message %llu exceed the "
                        "%zu bytes sent", w->index, (unsigned long long)c->expect_seq, size);
            reserve(&w->msg, &w->msg_cap, size);
            memcpy(w->msg + w->msg_len, payload, (size_t)len);
            w->msg_len += (size_t)len;
            if (fin) {
                w->in_msg = 0;
                ws_fragmented++;
                ws_echo(w, w->msg, w->msg_len, size, inflight, count);
            }
            break;
        case 0x1:
            ws_fail("connection %d: a text frame where a binary echo was expected", w->index);
        case 0x8: {
            if (ws_phase == WS_CLOSING) {
                ws_closed(w);
                c->in_len = 0;
                return;
            }
            int code = len >= 2 ? (payload[0] << 8) | payload[1] : -1;
            ws_fail("connection %d: the server sent a close frame (code %d, reason \"%.*s\") "
                    "after %llu echoes", w->index, code, len > 2 ? (int)(len - 2) : 0,
                    (const char *)payload + 2, (unsigned long long)w->echoes);
        }
        case 0x9:
            if (!fin || len > 125) ws_fail("connection %d: a malformed ping", w->index);
            ws_queue_frame(c, 0xA, payload, (size_t)len);
            break;
        case 0xA:
            break;
        default:
            ws_fail("connection %d: a frame with reserved opcode 0x%x", w->index, opcode);
        }
        off += hlen + (size_t)len;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

/* Read what is available (level-triggered: one recv unless it filled the buffer);
 * fails the run on EOF or a socket error. */
static void ws_read(ws_t *w) {
    conn_t *c = &w->c;
    for (;;) {
        reserve(&c->in, &c->in_cap, c->in_len + 65536);
        size_t room = c->in_cap - c->in_len;
        ssize_t r = recv(c->fd, c->in + c->in_len, room, 0);
        if (r <= 0 && ws_phase == WS_CLOSING) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
            w->closed = 1;
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            ws_fail("connection %d: recv: %s (%s, after %llu echoes)", w->index, strerror(errno),
                    w->open ? "open" : "during the handshake", (unsigned long long)w->echoes);
        }
        if (r == 0)
            ws_fail("connection %d: the server closed the connection %s after %llu echoes "
                    "(short connection)", w->index, w->open ? "with messages in flight"
                    : "during the handshake", (unsigned long long)w->echoes);
        c->in_len += (size_t)r;
        if ((size_t)r < room) return;
    }
}

/* Ask epoll for EPOLLOUT only while output is pending (the sockets are level-triggered). */
static void ws_interest(ws_t *w) {
    int want = w->c.out_len > 0;
    if (want == w->want_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u),
                             .data.u32 = (uint32_t)w->index};
    if (epoll_ctl(ws_ep, EPOLL_CTL_MOD, w->c.fd, &ev) < 0) { perror("epoll_ctl"); exit(2); }
    w->want_out = want;
}

static void ws_flush(ws_t *w) {
    if (flush_out(&w->c) < 0)
        ws_fail("connection %d: send: %s (%s)", w->index, strerror(errno),
                w->open ? "open" : "connecting or during the handshake");
    ws_interest(w);
}

static double cpu_now(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

static int run_ws(const char *host, int port, int conns, int inflight, size_t size,
                  double seconds, const char *path, const char *protocol) {
    if (conns < 1 || inflight < 1 || size < HEADER || size > WS_MAX_SIZE || !(seconds > 0))
        ws_fail("need CONNS >= 1, INFLIGHT >= 1, %d <= SIZE <= %u, SECONDS > 0", HEADER,
                WS_MAX_SIZE);
    if (path[0] != '/') ws_fail("PATH must start with /: %s", path);
    char check[29];
    ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", check); /* RFC 6455, section 1.3 */
    if (strcmp(check, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0)
        ws_fail("SHA-1/base64 self-test gave %s", check);
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    ws_rng_state = (now_ns() ^ ((uint64_t)getpid() << 32)) | 1;
    lat = malloc(sizeof(uint64_t) * LAT_SAMPLES);
    ws_t *ws = calloc((size_t)conns, sizeof(ws_t));
    int ep = ws_ep = epoll_create1(0);
    if (!lat || !ws || ep < 0) { perror("setup"); return 2; }

    uint64_t t0 = now_ns();
    for (int i = 0; i < conns; i++) {
        ws_t *w = &ws[i];
        w->index = i;
        w->slots = malloc((size_t)inflight * size);
        if (!w->slots) { perror("malloc"); return 2; }
        w->c.fd = open_conn(host, port);
        if (w->c.fd < 0)
            ws_fail("connection %d: connect to %s:%d: %s", i, host, port, strerror(errno));
        ws_queue_request(w, host, port, path, protocol); /* sent once writable */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, w->c.fd, &ev) < 0) { perror("epoll_ctl"); return 2; }
        w->want_out = 1;
    }

    /* Handshakes: no message is sent before every connection is open. */
    struct epoll_event events[MAX_EVENTS];
    uint64_t count = 0;
    int opened = 0;
    while (opened < conns) {
        if (now_ns() - t0 >= WS_HANDSHAKE_NS)
            ws_fail("only %d of %d connections finished the upgrade within %llu s", opened,
                    conns, (unsigned long long)(WS_HANDSHAKE_NS / 1000000000ull));
        int n = epoll_wait(ep, events, MAX_EVENTS, 50);
        for (int e = 0; e < n; e++) {
            ws_t *w = &ws[events[e].data.u32];
            if (events[e].events & EPOLLOUT) ws_flush(w);
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ws_read(w);
            if (!w->open) {
                conn_t *c = &w->c;
                const unsigned char *blank = memmem(c->in, c->in_len, "\r\n\r\n", 4);
                if (!blank) {
                    if (c->in_len > WS_MAX_RESPONSE)
                        ws_fail("connection %d: no end to the upgrade response in %d bytes",
                                w->index, WS_MAX_RESPONSE);
                    continue;
                }
                size_t head = (size_t)(blank - c->in);
                ws_check_response(w, (const char *)c->in, head, protocol);
                memmove(c->in, c->in + head + 4, c->in_len - head - 4);
                c->in_len -= head + 4;
                w->open = 1;
                opened++;
            }
            ws_frames(w, size, inflight, &count); /* pings only: nothing is outstanding */
            ws_flush(w);
        }
    }
    double handshake_ms = (double)(now_ns() - t0) / 1e6;

    uint64_t started = now_ns();
    uint64_t deadline = started + (uint64_t)(seconds * 1e9);
    double cpu_started = cpu_now(), cpu_used = 0.0;
    for (int i = 0; i < conns; i++) {
        for (int k = 0; k < inflight; k++) ws_send_message(&ws[i], size, inflight);
        ws_flush(&ws[i]);
    }
    ws_phase = WS_MEASURE;
    uint64_t stop_at = deadline;
    int outstanding = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (ws_phase == WS_MEASURE && t >= deadline) {
            /* Stop sending; every message in flight must still come back, intact. */
            ws_phase = WS_DRAIN;
            stop_at = t;
            cpu_used = cpu_now() - cpu_started;
            deadline = t + WS_DRAIN_NS;
        }
        if (ws_phase == WS_DRAIN) {
            outstanding = 0;
            for (int i = 0; i < conns; i++)
                outstanding += ws[i].c.next_seq != ws[i].c.expect_seq;
            if (outstanding == 0) break;
            if (t >= deadline) {
                uint64_t lost = 0;
                for (int i = 0; i < conns; i++) lost += ws[i].c.next_seq - ws[i].c.expect_seq;
                ws_fail("%llu messages on %d connections never came back (waited %llu s after "
                        "the run)", (unsigned long long)lost, outstanding,
                        (unsigned long long)(WS_DRAIN_NS / 1000000000ull));
            }
        }
        int n = epoll_wait(ep, events, MAX_EVENTS, 20);
        for (int e = 0; e < n; e++) {
            ws_t *w = &ws[events[e].data.u32];
            if (events[e].events & EPOLLOUT) ws_flush(w);
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ws_read(w);
            ws_frames(w, size, inflight, &count);
            ws_flush(w);
        }
    }
    double elapsed = (double)(stop_at - started) / 1e9;
    int silent = 0;
    for (int i = 0; i < conns; i++) silent += ws[i].echoes == 0;
    qsort(lat, lat_n, sizeof(uint64_t), cmp_u64);
    printf("rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f count=%llu errors=0 "
           "handshake_ms=%.1f silent=%d cpu_pct=%.1f fragmented=%llu\n",
           (double)count / elapsed, percentile_us(0.50), percentile_us(0.99), percentile_us(1.0),
           (unsigned long long)count, handshake_ms, silent, 100.0 * cpu_used / elapsed,
           (unsigned long long)ws_fragmented);
    fflush(stdout);

    /* The closing handshake, best effort: a close frame (1000) on each connection,
     * then up to WS_CLOSE_NS for the server's close frame or EOF. */
    ws_phase = WS_CLOSING;
    static const unsigned char normal[2] = {0x03, 0xE8};
    for (int i = 0; i < conns; i++) {
        ws_queue_frame(&ws[i].c, 0x8, normal, 2);
        if (flush_out(&ws[i].c) < 0) ws_closed(&ws[i]);
        else ws_interest(&ws[i]);
    }
    uint64_t close_by = now_ns() + WS_CLOSE_NS;
    int closed = 0;
    while (closed < conns && now_ns() < close_by) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 20);
        for (int e = 0; e < n; e++) {
            ws_t *w = &ws[events[e].data.u32];
            if (w->closed) continue;
            if (events[e].events & EPOLLOUT) {
                if (flush_out(&w->c) < 0) ws_closed(w);
                else ws_interest(w);
            }
            if (!w->closed && (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                ws_read(w);
                if (w->closed) ws_closed(w);
                else ws_frames(w, size, inflight, &count);
            }
        }
        closed = 0;
        for (int i = 0; i < conns; i++) closed += ws[i].closed;
    }
    for (int i = 0; i < conns; i++) close(ws[i].c.fd);
    return 0;
}

/* ---- irc mode: IRC over loopback ------------------------------------------
 *
 * Lines end in CRLF (a bare LF is an error). Client i is nick bI and sends
 * "NICK bI" and "USER bI 0 * :bI" as soon as it connects (at most
 * IRC_CONNECTING clients register at once; the next connects as one joins);
 * on 001 it sends "JOIN #bench" (irc-idle: "JOIN #idleK", K = i / 50) and it
 * is in once it has the channel's 366 (end of NAMES). When every client is in
 * (or after IRC_SETUP_NS) and IRC_SETTLE_NS more, the clock starts and the
 * first SENDERS clients send "PRIVMSG #bench :TEXT", TEXT being SIZE bytes:
 * the sequence number and the send time (CLOCK_MONOTONIC ns) in decimal, each
 * followed by a space, then a fill letter derived from the sequence number.
 *
 * Flow control. A sender does not get its own lines back, so it cannot count
 * its own echoes as chat mode does. Instead a line is settled once every other
 * client in the channel has received it: each sender keeps, per window slot,
 * how many receivers have its line of that sequence number, and its window
 * (at most WINDOW lines not yet settled, default 64) moves on when the oldest
 * line's count reaches the number of receivers. So no receiver ever has more
 * than SENDERS x WINDOW lines queued for it anywhere between the senders and
 * itself, whatever the server does, and a server cannot look fast by letting
 * some members fall behind (as it could if one observer client set the pace).
 * A line that never reaches everyone (lost, or a receiver gone) would stop
 * its sender: after IRC_STALL_NS without progress the sender counts a stall
 * (and an error) and gives up on its outstanding lines.
 *
 * Every client parses every line: ":nick!user@host PRIVMSG #bench :TEXT" from
 * a sender must carry a TEXT of ours (length, both numbers, the fill), and
 * counts as one delivery, timed from the send time inside it; each receiver
 * checks each sender's sequence numbers increase strictly (skipped ones are
 * "lost", repeated or earlier ones "order_errors"). PING is answered with
 * PONG at once; numerics 400-599 (but 422, no MOTD) and ERROR are errors;
 * every other line is ignored. Sockets have TCP_NODELAY, and TCP_QUICKACK is
 * set again after every read (ngircd does not set TCP_NODELAY, so a delayed
 * ACK from the client would hold its next write back).
 *
 * Output: rate and latency percentiles of deliveries during SECONDS, count,
 * errors, joined, lost, order_errors, stalls, pings answered and cpu_pct (this
 * process's CPU time during SECONDS as a share of them). irc-idle prints
 * "joined=N errors=E" once all are in, then holds every connection for
 * HOLD_SECONDS, still answering PINGs, and exits.
 */
#define IRC_WINDOW 64
#define IRC_TEXT_MIN 48
#define IRC_LAT_SAMPLES 16000000
#define IRC_SETUP_NS (60ull * 1000000000ull)
#define IRC_SETTLE_NS (300ull * 1000000ull)
#define IRC_STALL_NS (2000ull * 1000000ull)
#define IRC_MAX_LINE 8192
#define IRC_CONNECTING 100
#define IRC_IDLE_CHANNEL 50
#define IRC_CHANNEL "#bench"

typedef struct {
    conn_t c;
    char nick[16];
    size_t nick_len;
    char channel[24];
    size_t channel_len;
    int index;
    int state;              /* 0: not connected, 1: NICK/USER sent, 2: JOIN sent, 3: in */
    int dead;
    uint64_t *seen;         /* per sender: highest sequence number received + 1 */
    uint64_t acked;         /* sender: its lines below this have reached every receiver */
    uint32_t *got;          /* sender: per window slot, receivers that have that line */
    uint64_t last_progress; /* sender: when its window last moved */
} irc_t;

static irc_t *irc_cs;
static int irc_ep, irc_senders, irc_window, irc_measuring, irc_receivers, irc_joined,
    irc_pending, irc_error_reports;
static size_t irc_size;
static uint64_t irc_count, irc_lost, irc_order_errors, irc_stalls, irc_pings;

static void irc_error(const char *what, const char *line, size_t n) {
    errors++;
    if (irc_error_reports++ < 5)
        fprintf(stderr, "loadgen irc: %s%s%.*s\n", what, line ? ": " : "",
                (int)(n > 200 ? 200 : n), line ? line : "");
}

static void irc_queue(conn_t *c, const char *s, size_t n) {
    reserve(&c->out, &c->out_cap, c->out_len + n);
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
}

static void irc_connect(irc_t *k, const char *host, int port) {
    k->c.fd = open_conn(host, port);
    if (k->c.fd < 0) {
        irc_error("connect failed", NULL, 0);
        k->dead = 1;
        return;
    }
    char line[96];
    int n = snprintf(line, sizeof line, "NICK %s\r\nUSER %s 0 * :%s\r\n", k->nick, k->nick,
                     k->nick);
    irc_queue(&k->c, line, (size_t)n);
    k->state = 1;
    irc_pending++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)k->index};
    epoll_ctl(irc_ep, EPOLL_CTL_ADD, k->c.fd, &ev);
}

static void irc_drop(irc_t *k) {
    if (k->dead) return;
    k->dead = 1;
    if (k->state == 3 && irc_measuring) irc_receivers--;
    if (k->state == 1 || k->state == 2) irc_pending--;
    epoll_ctl(irc_ep, EPOLL_CTL_DEL, k->c.fd, NULL);
    close(k->c.fd);
}

static void irc_say(irc_t *k) {
    conn_t *c = &k->c;
    static const char head[] = "PRIVMSG " IRC_CHANNEL " :";
    size_t len = sizeof head - 1 + irc_size + 2;
    reserve(&c->out, &c->out_cap, c->out_len + len + 1);
    char *p = (char *)c->out + c->out_len;
    uint64_t seq = c->next_seq++;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    int n = snprintf(p, IRC_TEXT_MIN, "%llu %llu ", (unsigned long long)seq,
                     (unsigned long long)now_ns());
    memset(p + n, 'a' + (int)(seq % 26), irc_size - (size_t)n);
    memcpy(p + irc_size, "\r\n", 2);
    c->out_len += len;
    k->got[seq % (uint64_t)irc_window] = 0;
}

static void irc_refill(irc_t *k) {
    if (k->dead || k->state != 3) return;
    while (k->c.next_seq - k->acked < (uint64_t)irc_window) irc_say(k);
}

/* Settle the sender's oldest lines that every receiver now has. */
static void irc_advance(irc_t *k) {
    uint64_t w = (uint64_t)irc_window;
    int moved = 0;
    while (k->acked < k->c.next_seq && k->got[k->acked % w] >= (uint32_t)irc_receivers) {
        k->acked++;
        moved = 1;
    }
    if (moved) k->last_progress = now_ns();
}

/* Parse a decimal number ended by a space; returns the bytes used, 0 if none. */
static size_t irc_decimal(const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && i < 20 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (uint64_t)(s[i++] - '0');
    if (i == 0 || i >= n || s[i] != ' ') return 0;
    *out = v;
    return i + 1;
}

/* One PRIVMSG: returns 0 if it is not one of ours. */
static int irc_privmsg(irc_t *k, const char *nick, size_t nick_len, const char *rest,
                       size_t rest_n) {
    static const char head[] = IRC_CHANNEL " :";
    if (rest_n != sizeof head - 1 + irc_size || memcmp(rest, head, sizeof head - 1) != 0)
        return 0;
    const char *text = rest + sizeof head - 1;
    uint64_t sender = 0, seq, sent_at;
    if (nick_len < 2 || nick_len > 6 || nick[0] != 'b') return 0;
    for (size_t i = 1; i < nick_len; i++) {
        if (nick[i] < '0' || nick[i] > '9') return 0;
        sender = sender * 10 + (uint64_t)(nick[i] - '0');
    }
    if (sender >= (uint64_t)irc_senders) return 0;
    irc_t *from = &irc_cs[sender];
    if (from == k || nick_len != from->nick_len || memcmp(nick, from->nick, nick_len) != 0)
        return 0;
    size_t a = irc_decimal(text, irc_size, &seq);
    size_t b = a ? irc_decimal(text + a, irc_size - a, &sent_at) : 0;
    if (!b) return 0;
    for (size_t i = a + b; i < irc_size; i++)
        if (text[i] != (char)('a' + (int)(seq % 26))) return 0;
    if (seq >= from->c.next_seq) return 0; /* never sent */
    uint64_t last = k->seen[sender];
    if (seq < last) {
        irc_order_errors++;
        irc_error("a sender's line arrived out of order or twice", NULL, 0);
    } else {
        irc_lost += seq - last; /* sequence numbers skipped: dropped by the server */
        k->seen[sender] = seq + 1;
        if (seq >= from->acked) {
            from->got[seq % (uint64_t)irc_window]++;
            irc_advance(from);
        }
    }
    if (irc_measuring) {
        irc_count++;
        if (lat_n < IRC_LAT_SAMPLES) lat[lat_n++] = now_ns() - sent_at;
    }
    return 1;
}

/* Handle one line (CRLF removed). */
static void irc_line(irc_t *k, const char *p, size_t n) {
    const char *line = p, *end = p + n, *src = NULL;
    size_t src_n = 0;
    if (n && p[0] == ':') {
        const char *sp = memchr(p, ' ', n);
        if (!sp) { irc_error("a line with nothing after its prefix", line, n); return; }
        src = p + 1;
        src_n = (size_t)(sp - src);
        for (p = sp; p < end && *p == ' '; p++) {}
    }
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    size_t cmd_n = (size_t)((sp ? sp : end) - p);
    const char *rest = sp ? sp + 1 : end;
    size_t rest_n = (size_t)(end - rest);
    if (cmd_n == 7 && memcmp(p, "PRIVMSG", 7) == 0) {
        const char *bang = src ? memchr(src, '!', src_n) : NULL;
        size_t nick_len = bang ? (size_t)(bang - src) : src_n;
        if (!src || !irc_privmsg(k, src, nick_len, rest, rest_n))
            irc_error("a PRIVMSG that is not one of ours", line, n);
    } else if (cmd_n == 4 && memcmp(p, "PING", 4) == 0) {
        irc_queue(&k->c, "PONG ", 5);
        irc_queue(&k->c, rest, rest_n);
        irc_queue(&k->c, "\r\n", 2);
        irc_pings++;
    } else if (cmd_n == 3 && p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' &&
               p[2] >= '0' && p[2] <= '9') {
        int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        if (code == 1 && k->state == 1) {
            char join[48];
            int m = snprintf(join, sizeof join, "JOIN %s\r\n", k->channel);
            irc_queue(&k->c, join, (size_t)m);
            k->state = 2;
        } else if (code == 366 && k->state == 2) {
            /* "366 NICK CHANNEL :End of NAMES": the channel is the second parameter. */
            const char *ch = memchr(rest, ' ', rest_n);
            if (ch && (size_t)(end - ch - 1) > k->channel_len &&
                strncasecmp(ch + 1, k->channel, k->channel_len) == 0 &&
                ch[1 + k->channel_len] == ' ') {
                k->state = 3;
                irc_joined++;
                irc_pending--;
            }
        } else if (code >= 400 && code < 600 && code != 422) {
            irc_error("the server refused", line, n);
        }
    } else if (cmd_n == 5 && memcmp(p, "ERROR", 5) == 0) {
        irc_error("the server sent ERROR", line, n);
    }
}

/* Read everything available on one client and handle every whole line. */
static void irc_read(irc_t *k) {
    conn_t *c = &k->c;
    for (;;) {
        reserve(&c->in, &c->in_cap, c->in_len + 65536);
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            irc_error("recv failed", NULL, 0);
            irc_drop(k);
            return;
        }
        if (r == 0) {
            irc_error("the server closed a connection", NULL, 0);
            irc_drop(k);
            return;
        }
        c->in_len += (size_t)r;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    size_t off = 0;
    while (off < c->in_len) {
        const char *p = (const char *)c->in + off;
        const char *nl = memchr(p, '\n', c->in_len - off);
        if (!nl) break;
        size_t n = (size_t)(nl - p);
        if (n == 0 || p[n - 1] != '\r') {
            irc_error("a line not ended by CRLF", p, n);
        } else {
            irc_line(k, p, n - 1);
        }
        off += n + 1;
    }
    if (c->in_len - off > IRC_MAX_LINE) {
        irc_error("a line over 8192 bytes", NULL, 0);
        irc_drop(k);
        return;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void irc_flush(irc_t *k) {
    if (!k->dead && k->c.out_len && flush_out(&k->c) < 0) {
        irc_error("send failed", NULL, 0);
        irc_drop(k);
    }
}

/* idle: SECONDS is how long to hold the connections once all are in. */
static int run_irc(const char *host, int port, int conns, int senders, size_t size,
                   double seconds, int window, int idle) {
    if (size < IRC_TEXT_MIN) size = IRC_TEXT_MIN;
    if (size > 400) size = 400; /* a line within RFC 1459's 512 bytes */
    if (conns < 1) conns = 1;
    if (conns > 99999) conns = 99999;
    if (senders > conns) senders = conns;
    if (senders < 0 || idle) senders = 0;
    if (window < 1) window = IRC_WINDOW;
    irc_size = size;
    irc_senders = senders;
    irc_window = window;
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    lat = malloc(sizeof(uint64_t) * IRC_LAT_SAMPLES);
    irc_ep = epoll_create1(0);
    irc_cs = calloc((size_t)conns, sizeof(irc_t));
    if (!lat || !irc_cs || irc_ep < 0) { perror("setup"); return 2; }
    for (int i = 0; i < conns; i++) {
        irc_t *k = &irc_cs[i];
        k->index = i;
        k->c.fd = -1;
        k->nick_len = (size_t)snprintf(k->nick, sizeof k->nick, "b%d", i);
        k->channel_len = idle ? (size_t)snprintf(k->channel, sizeof k->channel, "#idle%d",
                                                 i / IRC_IDLE_CHANNEL)
                              : (size_t)snprintf(k->channel, sizeof k->channel, IRC_CHANNEL);
        k->seen = calloc((size_t)(senders ? senders : 1), sizeof(uint64_t));
        if (i < senders) k->got = calloc((size_t)window, sizeof(uint32_t));
    }

    struct epoll_event events[MAX_EVENTS];
    int opened = 0;
    uint64_t t0 = now_ns();
    uint64_t settle_until = 0, started = 0, deadline = 0;
    double cpu_started = 0.0;
    for (;;) {
        uint64_t t = now_ns();
        while (!settle_until && opened < conns && irc_pending < IRC_CONNECTING)
            irc_connect(&irc_cs[opened++], host, port);
        if (!settle_until && ((opened == conns && irc_pending == 0) || t - t0 >= IRC_SETUP_NS)) {
            if (idle) {
                printf("joined=%d errors=%llu\n", irc_joined, (unsigned long long)errors);
                fflush(stdout);
                deadline = t + (uint64_t)(seconds * 1e9);
                settle_until = t;
                irc_measuring = 1; /* holding */
            } else {
                settle_until = t + IRC_SETTLE_NS;
            }
        }
        if (idle && irc_measuring && t >= deadline) break;
        if (!idle && settle_until && !irc_measuring && t >= settle_until) {
            /* Everyone is in the channel: start the clock, fill every sender's window. */
            irc_measuring = 1;
            irc_receivers = irc_joined - 1;
            started = t = now_ns();
            cpu_started = cpu_now();
            deadline = started + (uint64_t)(seconds * 1e9);
            for (int i = 0; i < senders; i++) {
                irc_cs[i].last_progress = started;
                irc_refill(&irc_cs[i]);
                irc_flush(&irc_cs[i]);
            }
        }
        if (!idle && irc_measuring) {
            if (t >= deadline) break;
            for (int i = 0; i < senders; i++) {
                irc_t *k = &irc_cs[i];
                if (k->dead || k->state != 3) continue;
                irc_advance(k); /* receivers may have gone */
                if (k->c.next_seq > k->acked && t - k->last_progress >= IRC_STALL_NS) {
                    irc_stalls++;
                    irc_error("a sender's line did not reach every client within 2 s", NULL, 0);
                    k->acked = k->c.next_seq;
                    k->last_progress = t;
                }
            }
        }
        int n = epoll_wait(irc_ep, events, MAX_EVENTS, 20);
        for (int e = 0; e < n; e++) {
            irc_t *k = &irc_cs[events[e].data.u32];
            if (k->dead) continue;
            if ((events[e].events & EPOLLOUT) && flush_out(&k->c) < 0) {
                irc_error("send failed", NULL, 0);
                irc_drop(k);
                continue;
            }
            if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) irc_read(k);
            irc_flush(k);
        }
        /* Lines read above may have opened the senders' windows. */
        if (!idle && irc_measuring) {
            for (int i = 0; i < senders; i++) {
                irc_refill(&irc_cs[i]);
                irc_flush(&irc_cs[i]);
            }
        }
    }
    if (!idle) {
        double elapsed = (double)(now_ns() - started) / 1e9;
        double cpu = cpu_now() - cpu_started;
        qsort(lat, lat_n, sizeof(uint64_t), cmp_u64);
        printf("rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f count=%llu errors=%llu "
               "joined=%d lost=%llu order_errors=%llu stalls=%llu pings=%llu cpu_pct=%.1f\n",
               (double)irc_count / elapsed, percentile_us(0.50), percentile_us(0.99),
               percentile_us(1.0), (unsigned long long)irc_count, (unsigned long long)errors,
               irc_joined, (unsigned long long)irc_lost, (unsigned long long)irc_order_errors,
               (unsigned long long)irc_stalls, (unsigned long long)irc_pings,
               100.0 * cpu / elapsed);
    }
    for (int i = 0; i < conns; i++)
        if (!irc_cs[i].dead && irc_cs[i].c.fd >= 0) close(irc_cs[i].c.fd);
    return 0;
}

/* ---- TLS modes: tls-echo, tls-handshakes, tls-echo-server ------------------
 * Built only with -DLOADGEN_TLS (bench/_servers.py does so when OpenSSL's
 * headers are there). The client checks no certificate: it talks to a server
 * on loopback that the benchmark itself started with a throwaway certificate.
 */
#ifdef LOADGEN_TLS
#define TLS_HANDSHAKE_TIMEOUT_S 10

static SSL_CTX *tls_client_context(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) { ERR_print_errors_fp(stderr); exit(2); }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* flush_out retries a write with more bytes, from a buffer that may move. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}

/* Connect and complete the handshake with the socket blocking (its first write
 * waits for the connect), then make it non-blocking again; returns the fd (the
 * SSL in *tls) or -1. */
static int open_tls_conn(SSL_CTX *ctx, const char *host, int port, void **tls) {
    int fd = open_conn(host, port);
    if (fd < 0) return -1;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    struct timeval limit = {.tv_sec = TLS_HANDSHAKE_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, flags);
    *tls = ssl;
    return fd;
}

typedef struct {
    int fd;
    SSL *ssl;
    uint64_t started;
} handshake_t;

/* Start one non-blocking handshake in slot h; returns 0, or -1 if it could not start. */
static int handshake_start(SSL_CTX *ctx, int ep, handshake_t *h, uint32_t slot,
                           const char *host, int port) {
    h->started = now_ns();
    h->fd = open_conn(host, port);
    if (h->fd < 0) return -1;
    h->ssl = SSL_new(ctx);
    SSL_set_fd(h->ssl, h->fd);
    SSL_set_tlsext_host_name(h->ssl, "localhost");
    SSL_set_connect_state(h->ssl);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = slot};
    epoll_ctl(ep, EPOLL_CTL_ADD, h->fd, &ev);
    return 0;
}

static void handshake_end(handshake_t *h) {
    SSL_free(h->ssl);
    close(h->fd);
    h->ssl = NULL;
    h->fd = -1;
}

static int run_tls_handshakes(const char *host, int port, int concurrency, double seconds) {
    SSL_CTX *ctx = tls_client_context();
    lat = malloc(sizeof(uint64_t) * LAT_SAMPLES);
    int ep = epoll_create1(0);
    handshake_t *hs = calloc((size_t)concurrency, sizeof(handshake_t));
    uint64_t started = now_ns(), deadline = started + (uint64_t)(seconds * 1e9), count = 0;
    for (int i = 0; i < concurrency; i++)
        if (handshake_start(ctx, ep, &hs[i], (uint32_t)i, host, port) < 0) errors++;
    struct epoll_event events[MAX_EVENTS];
    while (now_ns() < deadline) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 50);
        for (int e = 0; e < n; e++) {
            handshake_t *h = &hs[events[e].data.u32];
            if (h->ssl == NULL) continue;
            int r = SSL_do_handshake(h->ssl);
            if (r != 1) {
                int why = SSL_get_error(h->ssl, r);
                if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) continue;
                errors++;
            } else {
                count++;
                record_latency(now_ns() - h->started);
            }
            handshake_end(h);
            if (handshake_start(ctx, ep, h, events[e].data.u32, host, port) < 0) errors++;
        }
    }
    double elapsed = (double)(now_ns() - started) / 1e9;
    qsort(lat, lat_n, sizeof(uint64_t), cmp_u64);
    printf("rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f count=%llu errors=%llu\n",
           (double)count / elapsed, percentile_us(0.50), percentile_us(0.99),
           percentile_us(1.0), (unsigned long long)count, (unsigned long long)errors);
    for (int i = 0; i < concurrency; i++)
        if (hs[i].ssl) handshake_end(&hs[i]);
    return 0;
}

typedef struct {
    conn_t c;
    int established;
} echo_peer_t;

static void echo_peer_close(echo_peer_t *p) {
    SSL_free(p->c.tls);
    close(p->c.fd);
    free(p->c.out);
    free(p);
}

/* Advance one connection of the echo server; returns -1 once it is to be closed. */
static int echo_peer_run(echo_peer_t *p) {
    SSL *ssl = p->c.tls;
    if (!p->established) {
        int r = SSL_do_handshake(ssl);
        if (r != 1) {
            int why = SSL_get_error(ssl, r);
            return why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE ? 0 : -1;
        }
        p->established = 1;
    }
    for (;;) {
        if (flush_out(&p->c) < 0) return -1;
        if (p->c.out_len) return 0; /* wait for room before reading more */
        /* What is read is what is sent: read it straight into the output buffer. */
        reserve(&p->c.out, &p->c.out_cap, 65536);
        ssize_t r = conn_recv(&p->c, p->c.out, p->c.out_cap);
        if (r == 0) return -1;
        if (r < 0) return errno == EAGAIN ? 0 : -1;
        p->c.out_len = (size_t)r;
    }
}

static int run_tls_echo_server(int port, const char *chain, const char *key) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, chain) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 2;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (bind(listener, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(listener, 4096) < 0) {
        perror("tls-echo-server");
        return 2;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    printf("tls-echo-server listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        for (int e = 0; e < n; e++) {
            echo_peer_t *p = events[e].data.ptr;
            if (p == NULL) {
                int fd;
                while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    p = calloc(1, sizeof *p);
                    p->c.fd = fd;
                    p->c.tls = SSL_new(ctx);
                    SSL_set_fd(p->c.tls, fd);
                    SSL_set_accept_state(p->c.tls);
                    struct epoll_event pev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                                              .data.ptr = p};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &pev);
                }
                continue;
            }
            if (echo_peer_run(p) < 0) echo_peer_close(p);
        }
    }
}
#endif /* LOADGEN_TLS */

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: see the comment at the top of loadgen.c\n");
        return 2;
    }
    const char *mode = argv[1];
    if (strncmp(mode, "tls-", 4) == 0) {
#ifdef LOADGEN_TLS
        signal(SIGPIPE, SIG_IGN); /* OpenSSL writes with write(), not send(MSG_NOSIGNAL) */
        if (strcmp(mode, "tls-echo-server") == 0)
            return run_tls_echo_server(atoi(argv[2]), argv[3], argv[4]);
        if (strcmp(mode, "tls-handshakes") == 0 && argc >= 6)
            return run_tls_handshakes(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
#else
        fprintf(stderr, "loadgen: %s needs a build with -DLOADGEN_TLS -lssl -lcrypto "
                        "(OpenSSL's headers: Debian's libssl-dev)\n", mode);
        return 2;
#endif
    }
    if (argc < 6) {
        fprintf(stderr, "usage: see the comment at the top of loadgen.c\n");
        return 2;
    }
    const char *host = argv[2];
    int port = atoi(argv[3]);
    int conns = atoi(argv[4]);
    if (strcmp(mode, "chat") == 0) {
        if (argc < 8) {
            fprintf(stderr, "usage: loadgen chat HOST PORT CLIENTS SENDERS SIZE SECONDS\n");
            return 2;
        }
        return run_chat(host, port, conns, atoi(argv[5]), (size_t)atol(argv[6]), atof(argv[7]));
    }
    if (strcmp(mode, "irc") == 0) {
        if (argc < 8) {
            fprintf(stderr, "usage: loadgen irc HOST PORT CLIENTS SENDERS SIZE SECONDS "
                            "[WINDOW]\n");
            return 2;
        }
        return run_irc(host, port, conns, atoi(argv[5]), (size_t)atol(argv[6]), atof(argv[7]),
                       argc > 8 ? atoi(argv[8]) : IRC_WINDOW, 0);
    }
    if (strcmp(mode, "irc-idle") == 0) {
        return run_irc(host, port, conns, 0, IRC_TEXT_MIN, atof(argv[5]), IRC_WINDOW, 1);
    }
    if (strcmp(mode, "ws") == 0) {
        if (argc < 8) {
            fprintf(stderr, "usage: loadgen ws HOST PORT CONNS INFLIGHT SIZE SECONDS "
                            "[PATH [PROTOCOL]]\n");
            return 2;
        }
        return run_ws(host, port, conns, atoi(argv[5]), (size_t)atol(argv[6]), atof(argv[7]),
                      argc > 8 ? argv[8] : "/", argc > 9 && argv[9][0] ? argv[9] : NULL);
    }
    int relay = strcmp(mode, "relay") == 0;
    int idle = strcmp(mode, "idle") == 0;
#ifdef LOADGEN_TLS
    SSL_CTX *tls = strcmp(mode, "tls-echo") == 0 ? tls_client_context() : NULL;
#endif
    int inflight = idle ? 1 : atoi(argv[5]);
    size_t size = idle ? 64 : (size_t)atol(argv[6]);
    double seconds = idle ? atof(argv[5]) : atof(argv[7]);
    if (size < HEADER) size = HEADER;
    lat = malloc(sizeof(uint64_t) * LAT_SAMPLES);

    int ep = epoll_create1(0);
    conn_t *cs = calloc((size_t)conns, sizeof(conn_t));
    for (int i = 0; i < conns; i++) {
#ifdef LOADGEN_TLS
        cs[i].fd = tls ? open_tls_conn(tls, host, port, &cs[i].tls) : open_conn(host, port);
#else
        cs[i].fd = open_conn(host, port);
#endif
        if (cs[i].fd < 0) { errors++; continue; }
        cs[i].sender = relay ? (i < inflight) : 1;
        cs[i].next_seq = relay ? (uint64_t)i << 40 : 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    /* Let every handshake finish before the clock starts. */
    usleep(200000);

    int server_pid = !idle && argc > 8 ? atoi(argv[8]) : -1;
    double server_cpu = server_pid > 0 ? cpu_seconds_of(server_pid) : 0.0;
    double own_cpu = cpu_seconds_of(0);
    uint64_t count = 0;        /* round trips (echo) or deliveries (relay) */
    uint64_t started = now_ns();
    uint64_t deadline = started + (uint64_t)(seconds * 1e9);
    int window = relay ? RELAY_WINDOW : inflight;
    for (int i = 0; i < conns; i++) {
        if (cs[i].fd < 0 || !cs[i].sender) continue;
        for (int k = 0; k < window; k++) {
            queue_frame(&cs[i], size, cs[i].next_seq++);
        }
        if (flush_out(&cs[i]) < 0) errors++;
    }

    struct epoll_event events[MAX_EVENTS];
    int answered = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (!idle && t >= deadline) break;
        if (idle && answered == conns) break;
        if (idle && t >= started + 30ull * 1000000000ull) break;
        int n = epoll_wait(ep, events, MAX_EVENTS, 50);
        for (int e = 0; e < n; e++) {
            conn_t *c = &cs[events[e].data.u32];
            if (events[e].events & EPOLLOUT) {
                if (flush_out(c) < 0) { errors++; continue; }
            }
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            for (;;) {
                reserve(&c->in, &c->in_cap, c->in_len + 65536);
                ssize_t r = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
                if (r < 0) {
                    if (errno == EAGAIN || errno == EINTR) break;
                    errors++;
                    break;
                }
                if (r == 0) { errors++; break; }
                c->in_len += (size_t)r;
            }
            size_t off = 0;
            while (c->in_len - off >= 4) {
                uint32_t len = get_u32(c->in + off);
                if (c->in_len - off < 4 + (size_t)len) break;
                uint64_t sent_at;
                uint64_t seq = check_frame(c->in + off + 4, len, &sent_at);
                off += 4 + len;
                if (seq == UINT64_MAX || len != size) { errors++; continue; }
                uint64_t t2 = now_ns();
                if (relay) {
                    count++;
                    record_latency(t2 - sent_at);
                    /* A sender's own frame came back: room for one more. */
                    if (c->sender && seq >= (1ull << 40) * (uint64_t)events[e].data.u32 &&
                        seq < (1ull << 40) * ((uint64_t)events[e].data.u32 + 1)) {
                        queue_frame(c, size, c->next_seq++);
                    }
                } else {
                    if (seq != c->expect_seq) errors++;
                    c->expect_seq = seq + 1;
                    count++;
                    record_latency(t2 - sent_at);
                    if (idle) {
                        if (!c->answered) { c->answered = 1; answered++; }
                    } else {
                        queue_frame(c, size, c->next_seq++);
                    }
                }
            }
            if (off) {
                memmove(c->in, c->in + off, c->in_len - off);
                c->in_len -= off;
            }
            if (flush_out(c) < 0) errors++;
        }
    }
    double elapsed = (double)(now_ns() - started) / 1e9;
    if (idle) {
        printf("answered=%d errors=%llu\n", answered, (unsigned long long)errors);
        fflush(stdout);
        usleep((useconds_t)(seconds * 1e6));
    } else {
        qsort(lat, lat_n, sizeof(uint64_t), cmp_u64);
        if (server_pid > 0)
            printf("server_cpu_s=%.3f cpu_s=%.3f ", cpu_seconds_of(server_pid) - server_cpu,
                   cpu_seconds_of(0) - own_cpu);
        printf("rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f count=%llu errors=%llu\n",
               (double)count / elapsed, percentile_us(0.50), percentile_us(0.99),
               percentile_us(1.0),
               (unsigned long long)count, (unsigned long long)errors);
    }
    for (int i = 0; i < conns; i++)
        if (cs[i].fd >= 0) close(cs[i].fd);
    return 0;
}
