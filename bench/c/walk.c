/*
 * The benchmarks' C yardstick: a plain table walker in C over the same table shape as the model's
 * walk benchmarks (bench/walks.ts), so `npm run bench` can say how far the model is from native
 * code. bench/run.ts compiles it with `cc -O2` and runs it between the model's rounds.
 *
 * Shape (VMSAv8-64, 4K granule, every leaf a 4 KiB page, 48-bit input and output):
 *   s1      a 4-level stage-1 table mapping 1 GiB of IOVA (from 0x40_0000_0000) to a random
 *           permutation of the 4 KiB pages of 1 GiB of PA (from 0x2_0000_0000); random IOVAs.
 *   nested  a 4-level stage 1 mapping 1 GiB of IOVA to a random permutation of the pages of 1 GiB
 *           of IPA (from 0x80_0000_0000), whose tables live at IPAs (from 0x3_0000_0000) that a
 *           4-level stage 2 maps one to one; stage 2 maps the 1 GiB of IPA to a random permutation
 *           of 1 GiB of PA (from 0x2_0000_1000). Every stage-1 fetch's IPA goes through a stage-2
 *           walk, then the output IPA does: 24 descriptor fetches per walk, no TLB.
 * Seeds, permutations (Fisher-Yates over mulberry32) and inputs are bench/walks.ts's, so both
 * translate the same inputs to the same addresses: the checksum (sum of output addresses of the
 * first --check inputs) must equal the model's, which bench/run.ts checks.
 *
 * Memory: tables are allocated from pools (bump allocation, in map order); a descriptor is read
 * through phys(), which finds the pool holding a PA (an address outside every pool aborts).
 * Each walk checks what the model's walk checks on this path: input range, valid bit, table /
 * block / page type per level, table address size, AF, read permission (stage 1 AP[1] and
 * APTable[0] for an unprivileged read; stage 2 S2AP[0]) and output address size.
 *
 *   walk-c s1|nested [--rounds N] [--round-ms MS] [--check N]
 * prints one JSON object: walks_per_s (median of the rounds), rounds_walks_per_s, checksum.
 *   walk-c s1|nested --walks N
 * builds the scene, performs exactly N walks and prints their sum (bench/instructions.ts counts
 * the instructions of N walks and of none, under valgrind).
 */
#define _POSIX_C_SOURCE 199309L
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint64_t u64;
typedef uint32_t u32;

#define PAGE 0x1000ull
#define GIB (1ull << 30)
#define MIB (1ull << 20)
#define INPUTS (1u << 20)
#define LEVELS 4

/* Descriptor bits (Arm ARM D8.3). */
#define DESC_VALID 1ull
#define DESC_TYPE_MASK 3ull
#define DESC_TABLE 3ull /* level 0-2: table; level 3: page */
#define DESC_BLOCK 1ull
#define DESC_AF (1ull << 10)
#define DESC_SH_INNER (3ull << 8)
#define S1_AP_EL0 (1ull << 6)      /* AP[1]: EL0 may access */
#define S1_APTABLE0 (1ull << 61)   /* APTable[0]: no EL0 access below */
#define S2_S2AP_READ (1ull << 6)
#define S2_MEMATTR_NORMAL (0xfull << 2)
#define ADDR_MASK 0x0000fffffffff000ull /* output address bits [47:12] */

enum { OK = 0, F_TRANSLATION, F_ACCESS_FLAG, F_PERMISSION, F_ADDRESS_SIZE, F_EXTERNAL_ABORT };

/* ---- simulated physical memory: a few pools of descriptors ---------------------------------- */

typedef struct {
    u64 base, size, next;
    u64 *words;
} pool_t;

#define MAX_POOLS 2
static pool_t pools[MAX_POOLS];
static int npools;

static pool_t *add_pool(u64 base, u64 size) {
    pool_t *p = &pools[npools++];
    p->base = base;
    p->size = size;
    p->next = base;
    p->words = calloc(size / 8, 8);
    if (p->words == NULL) {
        fprintf(stderr, "walk-c: out of memory\n");
        exit(1);
    }
    return p;
}

/* The descriptor at `pa`, or NULL: nothing answers there (an external abort). */
static inline const u64 *phys(u64 pa) {
    for (int i = 0; i < npools; i++) {
        if (pa - pools[i].base < pools[i].size) return &pools[i].words[(pa - pools[i].base) / 8];
    }
    return NULL;
}

static u64 alloc_table(pool_t *p) {
    if (p->next + PAGE > p->base + p->size) {
        fprintf(stderr, "walk-c: table pool full\n");
        exit(1);
    }
    u64 pa = p->next;
    p->next += PAGE;
    return pa;
}

/* ---- the same PRNG, permutations and inputs as bench/walks.ts ------------------------------- */

static u32 prng_state;
static double prng(void) { /* mulberry32 (bench/measure.ts prng) */
    prng_state += 0x6d2b79f5u;
    u32 t = prng_state;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return (double)(t ^ (t >> 14)) / 4294967296.0;
}

/* Page frames base, base + 4K, ... (count of them) in a seeded random order. */
static u64 *shuffled_pages(u32 seed, u64 base, u32 count) {
    u64 *out = malloc(sizeof(u64) * count);
    for (u32 i = 0; i < count; i++) out[i] = base + (u64)i * PAGE;
    prng_state = seed;
    for (u32 i = count - 1; i > 0; i--) {
        u32 j = (u32)floor(prng() * (double)(i + 1));
        u64 t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    return out;
}

/* INPUTS addresses, 8-byte aligned, uniform over [base, base + size). */
static u64 *random_inputs(u32 seed, u64 base, u64 size) {
    u64 *out = malloc(sizeof(u64) * INPUTS);
    prng_state = seed;
    for (u32 i = 0; i < INPUTS; i++) out[i] = base + (u64)floor(prng() * (double)size / 8) * 8;
    return out;
}

/* ---- building tables (what io-pgtable-arm does for a 4 KiB map) ------------------------------ */

typedef struct {
    u64 root;
    pool_t *pool;
    int stage;
} table_t;

static u64 *slot(u64 pa) {
    u64 *p = (u64 *)phys(pa);
    if (p == NULL) {
        fprintf(stderr, "walk-c: table at unbacked PA 0x%" PRIx64 "\n", pa);
        exit(1);
    }
    return p;
}

static void map_page(table_t *t, u64 in, u64 out) {
    u64 table = t->root;
    for (int level = 0; level < 3; level++) {
        u64 *d = slot(table + ((in >> (12 + 9 * (3 - level))) & 511) * 8);
        if ((*d & DESC_VALID) == 0) *d = alloc_table(t->pool) | DESC_TABLE;
        table = *d & ADDR_MASK;
    }
    u64 attrs = t->stage == 1 ? DESC_AF | DESC_SH_INNER | S1_AP_EL0 : DESC_AF | DESC_SH_INNER | S2_S2AP_READ | (1ull << 7) | S2_MEMATTR_NORMAL;
    *slot(table + ((in >> 12) & 511) * 8) = out | attrs | DESC_TABLE;
}

/* ---- the walkers ----------------------------------------------------------------------------- */

typedef struct {
    u64 ttb;
    int ias, oas;
} regime_t;

/* Stage-2 walk of `ipa` for a read: PA in *out, or a fault. */
static int walk_s2(const regime_t *r, u64 ipa, u64 *out) {
    if (ipa >> r->ias) return F_TRANSLATION;
    u64 table = r->ttb;
    for (int level = 0;; level++) {
        const u64 *p = phys(table + ((ipa >> (12 + 9 * (3 - level))) & 511) * 8);
        if (p == NULL) return F_EXTERNAL_ABORT;
        u64 d = *p;
        if ((d & DESC_VALID) == 0) return F_TRANSLATION;
        if (level < 3 && (d & DESC_TYPE_MASK) == DESC_TABLE) {
            table = d & ADDR_MASK;
            if (table >> r->oas) return F_ADDRESS_SIZE;
            continue;
        }
        if (level == 3 ? (d & DESC_TYPE_MASK) != DESC_TABLE : level == 0) return F_TRANSLATION;
        if ((d & DESC_AF) == 0) return F_ACCESS_FLAG;
        if ((d & S2_S2AP_READ) == 0) return F_PERMISSION;
        u64 offset = (1ull << (12 + 9 * (3 - level))) - 1;
        u64 oa = (d & ADDR_MASK & ~offset) | (ipa & offset);
        if (oa >> r->oas) return F_ADDRESS_SIZE;
        *out = oa;
        return OK;
    }
}

/* Stage-1 walk of `iova` for an unprivileged read; with `s2`, descriptor addresses are IPAs. */
static int walk_s1(const regime_t *r, const regime_t *s2, u64 iova, u64 *out) {
    if (iova >> r->ias) return F_TRANSLATION;
    u64 table = r->ttb;
    u64 table_hi = 0; /* APTable and friends, ORed down the walk */
    for (int level = 0;; level++) {
        u64 at = table + ((iova >> (12 + 9 * (3 - level))) & 511) * 8;
        if (s2 != NULL) {
            int f = walk_s2(s2, at, &at);
            if (f != OK) return f;
        }
        const u64 *p = phys(at);
        if (p == NULL) return F_EXTERNAL_ABORT;
        u64 d = *p;
        if ((d & DESC_VALID) == 0) return F_TRANSLATION;
        if (level < 3 && (d & DESC_TYPE_MASK) == DESC_TABLE) {
            table = d & ADDR_MASK;
            if (table >> r->oas) return F_ADDRESS_SIZE;
            table_hi |= d;
            continue;
        }
        if (level == 3 ? (d & DESC_TYPE_MASK) != DESC_TABLE : level == 0) return F_TRANSLATION;
        if ((d & DESC_AF) == 0) return F_ACCESS_FLAG;
        if ((d & S1_AP_EL0) == 0 || (table_hi & S1_APTABLE0) != 0) return F_PERMISSION;
        u64 offset = (1ull << (12 + 9 * (3 - level))) - 1;
        u64 oa = (d & ADDR_MASK & ~offset) | (iova & offset);
        if (oa >> r->oas) return F_ADDRESS_SIZE;
        *out = oa;
        return OK;
    }
}

static int walk_nested(const regime_t *s1, const regime_t *s2, u64 iova, u64 *out) {
    u64 ipa;
    int f = walk_s1(s1, s2, iova, &ipa);
    if (f != OK) return f;
    return walk_s2(s2, ipa, out);
}

/* ---- scenes and timing ----------------------------------------------------------------------- */

#define S1_IOVA 0x4000000000ull
#define S1_PA 0x200000000ull
#define TABLE_POOL 0x100000000ull
#define GUEST_TABLES 0x300000000ull
#define NESTED_IPA 0x8000000000ull
#define PAGES ((u32)(GIB / PAGE))

typedef struct {
    regime_t s1, s2;
    int nested;
    u64 *inputs;
} scene_t;

static scene_t s1_scene(void) {
    pool_t *pool = add_pool(TABLE_POOL, 64 * MIB);
    table_t t = {alloc_table(pool), pool, 1};
    u64 *pa = shuffled_pages(11, S1_PA, PAGES);
    for (u32 i = 0; i < PAGES; i++) map_page(&t, S1_IOVA + (u64)i * PAGE, pa[i]);
    free(pa);
    scene_t s = {{t.root, 48, 48}, {0, 0, 0}, 0, random_inputs(1, S1_IOVA, GIB)};
    return s;
}

static scene_t nested_scene(void) {
    pool_t *host = add_pool(TABLE_POOL, 64 * MIB);
    pool_t *guest = add_pool(GUEST_TABLES, 8 * MIB);
    table_t s2 = {alloc_table(host), host, 2};
    for (u64 off = 0; off < 8 * MIB; off += PAGE) map_page(&s2, GUEST_TABLES + off, GUEST_TABLES + off);
    table_t s1 = {alloc_table(guest), guest, 1};
    u64 *ipa = shuffled_pages(12, NESTED_IPA, PAGES);
    for (u32 i = 0; i < PAGES; i++) map_page(&s1, S1_IOVA + (u64)i * PAGE, ipa[i]);
    free(ipa);
    u64 *pa = shuffled_pages(13, S1_PA + PAGE, PAGES);
    for (u32 i = 0; i < PAGES; i++) map_page(&s2, NESTED_IPA + (u64)i * PAGE, pa[i]);
    free(pa);
    scene_t s = {{s1.root, 48, 48}, {s2.root, 48, 48}, 1, random_inputs(3, S1_IOVA, GIB)};
    return s;
}

/* `count` walks over the inputs; the sum of their output addresses (so none can be skipped). */
static u64 run(const scene_t *s, u64 count) {
    u64 sum = 0;
    for (u64 i = 0; i < count; i++) {
        u64 oa;
        u64 in = s->inputs[i & (INPUTS - 1)];
        int f = s->nested ? walk_nested(&s->s1, &s->s2, in, &oa) : walk_s1(&s->s1, NULL, in, &oa);
        if (f != OK) {
            fprintf(stderr, "walk-c: input 0x%" PRIx64 " faulted (%d)\n", in, f);
            exit(1);
        }
        sum += oa;
    }
    return sum;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "";
    int rounds = 5, check = 10000;
    long long walks = -1;
    double round_ms = 200;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--walks") == 0) walks = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--round-ms") == 0) round_ms = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--check") == 0) check = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "walk-c: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    scene_t s;
    if (strcmp(which, "s1") == 0) s = s1_scene();
    else if (strcmp(which, "nested") == 0) s = nested_scene();
    else {
        fprintf(stderr, "usage: walk-c s1|nested [--rounds N] [--round-ms MS] [--check N] [--walks N]\n");
        return 2;
    }
    if (walks >= 0) {
        /* Exactly `walks` walks and nothing else timed: for counting instructions (bench/instructions.ts). */
        printf("{\"scene\": \"%s\", \"walks\": %lld, \"sum\": \"%" PRIu64 "\"}\n", which, walks, run(&s, (u64)walks));
        return 0;
    }
    if (rounds < 1 || rounds > 100) rounds = 5;
    u64 checksum = run(&s, (u64)check);

    /* Calibrate (and warm the caches), then time the rounds. */
    u64 count = 1024;
    volatile u64 sink = 0;
    for (;;) {
        double t0 = now();
        sink += run(&s, count);
        double ms = (now() - t0) * 1e3;
        if (ms >= round_ms / 4 || count >= (1ull << 34)) {
            count = (u64)((double)count * round_ms / (ms > 0.001 ? ms : 0.001));
            if (count < 1024) count = 1024;
            break;
        }
        count *= 4;
    }
    double rates[100];
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        sink += run(&s, count);
        rates[r] = (double)count / (now() - t0);
    }
    double sorted[100];
    memcpy(sorted, rates, sizeof(double) * (size_t)rounds);
    qsort(sorted, (size_t)rounds, sizeof(double), by_value);
    double median = rounds % 2 ? sorted[rounds / 2] : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;

    printf("{\"scene\": \"%s\", \"walks_per_s\": %.0f, \"rounds_walks_per_s\": [", which, median);
    for (int r = 0; r < rounds; r++) printf("%s%.0f", r ? ", " : "", rates[r]);
    printf("], \"checksum\": \"%" PRIu64 "\", \"check_inputs\": %d, \"sink\": %d}\n", checksum, check, (int)(sink & 1));
    return 0;
}
