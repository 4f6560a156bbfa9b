// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * delay-relay: a TCP relay that holds every chunk going from client to
 * server for a fixed delay before forwarding it, standing in for
 * `tc qdisc add dev X root netem delay D` on a kernel built without
 * sch_netem.  Server-to-client data passes straight through, so the
 * added round-trip time is D, as with netem on one end of a veth pair.
 *
 *   delay-relay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT DELAY_US
 *
 * Runs until killed; one pair of threads per connection.  Benchmark
 * helper only (tests/bench/run.sh builds and starts it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

struct pkt {
    struct pkt *next;
    struct timespec due;
    size_t len;
    char data[];
};

struct pipe_state {
    int from, to;
    long delay_ns;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pkt *head, *tail;
    int eof;
};

static struct sockaddr_in target;

static void add_ns(struct timespec *t, long ns)
{
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads chunks and queues them with the time they may leave. */
static void *delayed_reader(void *opaque)
{
    struct pipe_state *ps = opaque;

    for (;;) {
        struct pkt *p = malloc(sizeof(*p) + CHUNK);
        ssize_t n;

        if (!p) {
            break;
        }
        n = read(ps->from, p->data, CHUNK);
        if (n <= 0) {
            free(p);
            break;
        }
        p->len = (size_t)n;
        p->next = NULL;
        clock_gettime(CLOCK_MONOTONIC, &p->due);
        add_ns(&p->due, ps->delay_ns);
        pthread_mutex_lock(&ps->lock);
        if (ps->tail) {
            ps->tail->next = p;
        } else {
            ps->head = p;
        }
        ps->tail = p;
        pthread_cond_signal(&ps->cond);
        pthread_mutex_unlock(&ps->lock);
    }
    pthread_mutex_lock(&ps->lock);
    ps->eof = 1;
    pthread_cond_signal(&ps->cond);
    pthread_mutex_unlock(&ps->lock);
    return NULL;
}

/* Sends each queued chunk once its time has come, in order. */
static void *delayed_writer(void *opaque)
{
    struct pipe_state *ps = opaque;

    for (;;) {
        struct pkt *p;

        pthread_mutex_lock(&ps->lock);
        while (!ps->head && !ps->eof) {
            pthread_cond_wait(&ps->cond, &ps->lock);
        }
        p = ps->head;
        if (!p) {
            pthread_mutex_unlock(&ps->lock);
            break;
        }
        ps->head = p->next;
        if (!ps->head) {
            ps->tail = NULL;
        }
        pthread_mutex_unlock(&ps->lock);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &p->due,
                               NULL) == EINTR) {
        }
        if (write_all(ps->to, p->data, p->len) < 0) {
            free(p);
            break;
        }
        free(p);
    }
    shutdown(ps->to, SHUT_WR);
    return NULL;
}

static void *plain_copy(void *opaque)
{
    int *fds = opaque;
    char *buf = malloc(CHUNK);

    for (;;) {
        ssize_t n = buf ? read(fds[0], buf, CHUNK) : -1;
        if (n <= 0 || write_all(fds[1], buf, (size_t)n) < 0) {
            break;
        }
    }
    shutdown(fds[1], SHUT_WR);
    free(buf);
    return NULL;
}

struct conn {
    int client;
    long delay_ns;
};

static void *serve(void *opaque)
{
    struct conn *c = opaque;
    int one = 1;
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    struct pipe_state ps;
    pthread_t r, w, back;
    int back_fds[2];

    if (srv < 0 || connect(srv, (struct sockaddr *)&target,
                           sizeof(target)) < 0) {
        perror("delay-relay: connect");
        close(c->client);
        if (srv >= 0) {
            close(srv);
        }
        free(c);
        return NULL;
    }
    setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&ps, 0, sizeof(ps));
    ps.from = c->client;
    ps.to = srv;
    ps.delay_ns = c->delay_ns;
    pthread_mutex_init(&ps.lock, NULL);
    pthread_cond_init(&ps.cond, NULL);
    back_fds[0] = srv;
    back_fds[1] = c->client;
    pthread_create(&r, NULL, delayed_reader, &ps);
    pthread_create(&w, NULL, delayed_writer, &ps);
    pthread_create(&back, NULL, plain_copy, back_fds);
    pthread_join(r, NULL);
    pthread_join(w, NULL);
    pthread_join(back, NULL);
    close(srv);
    close(c->client);
    free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in la;
    int one = 1, ls;
    long delay_us;

    if (argc != 6) {
        fprintf(stderr, "usage: %s LISTEN_ADDR LISTEN_PORT TARGET_ADDR "
                "TARGET_PORT DELAY_US\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&la, 0, sizeof(la));
    la.sin_family = AF_INET;
    la.sin_port = htons((uint16_t)atoi(argv[2]));
    memset(&target, 0, sizeof(target));
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)atoi(argv[4]));
    if (inet_pton(AF_INET, argv[1], &la.sin_addr) != 1 ||
        inet_pton(AF_INET, argv[3], &target.sin_addr) != 1) {
        fprintf(stderr, "delay-relay: bad address\n");
        return 2;
    }
    delay_us = atol(argv[5]);
    ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ls, (struct sockaddr *)&la, sizeof(la)) < 0 ||
        listen(ls, 16) < 0) {
        perror("delay-relay: listen");
        return 1;
    }
    for (;;) {
        pthread_t t;
        struct conn *c = malloc(sizeof(*c));
        c->client = accept(ls, NULL, NULL);
        if (c->client < 0) {
            free(c);
            continue;
        }
        c->delay_ns = delay_us * 1000;
        pthread_create(&t, NULL, serve, c);
        pthread_detach(t);
    }
}
