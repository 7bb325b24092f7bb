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
 *   loadgen idle  HOST PORT CONNS HOLD_SECONDS
 *       opens CONNS connections, then one echo on each; holds them open for
 *       HOLD_SECONDS (so the server's memory can be read) and prints how many
 *       answered.
 *
 * Output: one line of key=value pairs; "errors=N" counts corrupt or unexpected
 * bytes and failed connections. Build: cc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
} conn_t;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static int flush_out(conn_t *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
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

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: see the comment at the top of loadgen.c\n");
        return 2;
    }
    const char *mode = argv[1];
    const char *host = argv[2];
    int port = atoi(argv[3]);
    int conns = atoi(argv[4]);
    int relay = strcmp(mode, "relay") == 0;
    int idle = strcmp(mode, "idle") == 0;
    int inflight = idle ? 1 : atoi(argv[5]);
    size_t size = idle ? 64 : (size_t)atol(argv[6]);
    double seconds = idle ? atof(argv[5]) : atof(argv[7]);
    if (size < HEADER) size = HEADER;
    lat = malloc(sizeof(uint64_t) * LAT_SAMPLES);

    int ep = epoll_create1(0);
    conn_t *cs = calloc((size_t)conns, sizeof(conn_t));
    for (int i = 0; i < conns; i++) {
        cs[i].fd = open_conn(host, port);
        if (cs[i].fd < 0) { errors++; continue; }
        cs[i].sender = relay ? (i < inflight) : 1;
        cs[i].next_seq = relay ? (uint64_t)i << 40 : 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    /* Let every handshake finish before the clock starts. */
    usleep(200000);

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
                ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
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
        printf("rate=%.0f p50_us=%.1f p99_us=%.1f count=%llu errors=%llu\n",
               (double)count / elapsed, percentile_us(0.50), percentile_us(0.99),
               (unsigned long long)count, (unsigned long long)errors);
    }
    for (int i = 0; i < conns; i++)
        if (cs[i].fd >= 0) close(cs[i].fd);
    return 0;
}
