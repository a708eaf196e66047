/*
 * Bare-metal SMMUv3 oracle agent for QEMU 10 `-M virt,iommu=smmuv3` with `-device edu`.
 *
 * It knows the platform (PL011, GICv2, ECAM, SMMUv3 registers, edu's DMA engine) and nothing of
 * the cases: it runs a script of operations the TypeScript harness (oracle/script.ts) wrote into
 * guest RAM with `-device loader`, and prints what happened on the UART, one line per fact:
 *   I <sid> <idr0> <idr1> <idr3> <idr5>  edu found, SMMU up (once)
 *   C <id>                              a case starts (the previous case's writes are undone)
 *   R <8 bytes>                         what a DMA read from memory brought into edu's buffer
 *   E <dw0> <dw1> <dw2> <dw3>           an event record, raw (at most MAX_PRINTED per DMA)
 *   N <count>                           number of event records the DMA produced
 *   P <value>                           a 64-bit word of memory (OP_PEEK)
 *   G <gerror> <cmdq_cons>              a command queue error
 *   D                                   the script ended
 * The script format is described in oracle/script.ts; both sides keep the same numbers.
 */
#include <stdint.h>

typedef uint64_t u64;
typedef uint32_t u32;

#define UART          0x09000000UL
#define GICD          0x08000000UL
#define GICC          0x08010000UL
#define SMMU          0x09050000UL
#define SMMU_PAGE1    (SMMU + 0x10000UL)
#define ECAM          0x4010000000UL
#define PCI_MMIO      0x10000000UL

#define SCRIPT        0x44000000UL
#define STRTAB        0x40400000UL /* 32 STEs of 64 bytes */
#define CMDQ          0x40401000UL /* 256 commands of 16 bytes */
#define EVTQ          0x40402000UL /* 128 records of 32 bytes */
#define MARKER_PAGE   0x40410000UL /* what edu's buffer holds before a DMA read */
#define PATTERN_PAGE  0x40411000UL /* what edu writes in a DMA write */
#define SCRATCH_PAGE  0x40412000UL /* where edu's buffer is copied out after a DMA read */

#define CMDQ_LOG2     8
#define EVTQ_LOG2     7
#define STRTAB_LOG2   5

/* Script operations (oracle/script.ts OP). */
enum { OP_END = 0, OP_CASE = 1, OP_W64 = 2, OP_STE = 3, OP_CMD = 4, OP_DMA_RD = 5, OP_DMA_WR = 6, OP_PEEK = 7 };
#define SCRIPT_MAGIC  0x3143524f554d4d53ULL /* "SMMUORC1" */

#define MAX_UNDO      8192
#define MAX_PRINTED   4
#define EDU_BUF       0x40000UL
#define EDU_MAX_LEN   4096

static inline void w32(u64 a, u32 v) { *(volatile u32 *)a = v; }
static inline u32 r32(u64 a) { return *(volatile u32 *)a; }
static inline void w64(u64 a, u64 v) { *(volatile u64 *)a = v; }
static inline u64 r64(u64 a) { return *(volatile u64 *)a; }
static inline void dsb(void) { __asm__ volatile("dsb sy" ::: "memory"); }

/* ---- UART ---------------------------------------------------------------------------------- */
static void putc_(char c) {
	while (r32(UART + 0x18) & (1u << 5)) {}
	w32(UART, (u32)c);
}
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void hex(u64 v) {
	static const char digits[] = "0123456789abcdef";
	for (int i = 60; i >= 0; i -= 4) putc_(digits[(v >> i) & 0xf]);
}
static void sp_hex(u64 v) { putc_(' '); hex(v); }

/* ---- waiting for edu without spinning: a virtual-timer WFI lets icount skip idle time --------- */
static void wait_a_while(void) {
	u64 now;
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(now));
	u64 freq;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
	__asm__ volatile("msr cntv_cval_el0, %0" :: "r"(now + freq / 8)); /* 125 ms > edu's 100 ms */
	__asm__ volatile("msr cntv_ctl_el0, %0; isb" :: "r"((u64)1));
	__asm__ volatile("wfi");
	__asm__ volatile("msr cntv_ctl_el0, %0; isb" :: "r"((u64)0));
}

static void gic_init(void) {
	w32(GICD + 0x000, 1);             /* GICD_CTLR: forward */
	w32(GICD + 0x100, 1u << 27);      /* GICD_ISENABLER0: PPI 11 (virtual timer, INTID 27) */
	w32(GICC + 0x004, 0xff);          /* GICC_PMR */
	w32(GICC + 0x000, 1);             /* GICC_CTLR: signal to the CPU (PSTATE.I stays masked) */
}

/* ---- edu ------------------------------------------------------------------------------------- */
static u64 edu_bar;
static u32 edu_sid;

static int edu_find(void) {
	for (u32 dev = 0; dev < 32; dev++) {
		u64 cfg = ECAM + ((u64)dev << 15);
		if (r32(cfg) != 0x11e81234u) continue;
		w32(cfg + 0x10, (u32)PCI_MMIO);  /* BAR0 (32-bit, 1 MiB) */
		w32(cfg + 0x04, 0x6);            /* COMMAND: memory + bus master */
		edu_bar = PCI_MMIO;
		edu_sid = dev << 3;              /* bus 0, function 0: requester ID = devfn */
		return r32(edu_bar) == 0x010000edu;
	}
	return 0;
}

/* cmd bit 1: 0 = RAM -> edu buffer, 1 = edu buffer -> RAM */
static void edu_dma(u64 src, u64 dst, u64 len, u32 to_ram) {
	w64(edu_bar + 0x80, src);
	w64(edu_bar + 0x88, dst);
	w64(edu_bar + 0x90, len);
	dsb();
	w32(edu_bar + 0x98, 1u | (to_ram ? 2u : 0u));
	while (r32(edu_bar + 0x98) & 1u) wait_a_while();
}

/* ---- SMMUv3 ---------------------------------------------------------------------------------- */
static u32 cmdq_prod;
static u32 gerror_seen;

static void cmd_submit(u64 w0, u64 w1) {
	u32 mask = (1u << CMDQ_LOG2) - 1;
	u64 slot = CMDQ + (u64)(cmdq_prod & mask) * 16;
	w64(slot, w0);
	w64(slot + 8, w1);
	cmdq_prod = (cmdq_prod + 1) & ((2u << CMDQ_LOG2) - 1);
	dsb();
	w32(SMMU + 0x98, cmdq_prod);
}

static void cmd_sync(void) {
	cmd_submit(0x46, 0);                        /* CMD_SYNC, CS = SIG_NONE */
	while ((r32(SMMU + 0x9c) & ((2u << CMDQ_LOG2) - 1)) != cmdq_prod) {
		u32 gerror = r32(SMMU + 0x60);
		if (gerror != gerror_seen) break;
	}
	u32 gerror = r32(SMMU + 0x60);
	if (gerror != gerror_seen) {
		puts_("G"); sp_hex(gerror); sp_hex(r32(SMMU + 0x9c)); puts_("\n");
		/* acknowledge (GERRORN := GERROR) and skip the failed command */
		w32(SMMU + 0x64, gerror);
		gerror_seen = gerror;
		w32(SMMU + 0x9c, cmdq_prod);
	}
}

static void smmu_init(void) {
	w32(SMMU + 0x20, 0);                                   /* CR0: off */
	while (r32(SMMU + 0x24) != 0) {}
	for (u64 a = STRTAB; a < STRTAB + (64UL << STRTAB_LOG2); a += 8) w64(a, 0);
	w64(SMMU + 0x80, STRTAB);                              /* STRTAB_BASE */
	w32(SMMU + 0x88, STRTAB_LOG2);                         /* STRTAB_BASE_CFG: linear */
	w64(SMMU + 0x90, CMDQ | CMDQ_LOG2);                    /* CMDQ_BASE */
	w32(SMMU + 0x98, 0);
	w32(SMMU + 0x9c, 0);
	w64(SMMU + 0xa0, EVTQ | EVTQ_LOG2);                    /* EVTQ_BASE */
	w32(SMMU_PAGE1 + 0xa8, 0);
	w32(SMMU_PAGE1 + 0xac, 0);
	w32(SMMU + 0x28, 0);                                   /* CR1 */
	w32(SMMU + 0x2c, 0);                                   /* CR2 */
	gerror_seen = r32(SMMU + 0x60);
	dsb();
	w32(SMMU + 0x20, 0xd);                                 /* CR0: SMMUEN | EVTQEN | CMDQEN */
	while ((r32(SMMU + 0x24) & 0xd) != 0xd) {}
	cmd_submit(0x04, 31);                                  /* CMD_CFGI_ALL */
	cmd_submit(0x30, 0);                                   /* CMD_TLBI_NSNH_ALL */
	cmd_sync();
}

static u64 case_ste[8];
static const u64 bypass_ste[8] = { 0x9 /* V, Config = bypass */ };

static void ste_install(const u64 *ste) {
	u64 slot = STRTAB + (u64)edu_sid * 64;
	/* V last would matter on hardware; QEMU reads the STE only when asked */
	for (int i = 7; i >= 0; i--) w64(slot + 8 * (u64)i, ste[i]);
	dsb();
	cmd_submit(0x03 | ((u64)edu_sid << 32), 1);            /* CMD_CFGI_STE, leaf */
	cmd_sync();
}

/* Prints the event records queued since the last drain and consumes them. */
static void events_drain(void) {
	u32 wrapmask = (2u << EVTQ_LOG2) - 1, mask = (1u << EVTQ_LOG2) - 1;
	u32 prod = r32(SMMU_PAGE1 + 0xa8) & wrapmask;
	u32 cons = r32(SMMU_PAGE1 + 0xac) & wrapmask;
	u32 n = 0;
	while (cons != prod) {
		u64 rec = EVTQ + (u64)(cons & mask) * 32;
		if (n < MAX_PRINTED) {
			puts_("E"); sp_hex(r64(rec)); sp_hex(r64(rec + 8)); sp_hex(r64(rec + 16)); sp_hex(r64(rec + 24)); puts_("\n");
		}
		n++;
		cons = (cons + 1) & wrapmask;
		w32(SMMU_PAGE1 + 0xac, cons);
		prod = r32(SMMU_PAGE1 + 0xa8) & wrapmask;
	}
	puts_("N"); sp_hex(n); puts_("\n");
}

/* ---- the script ------------------------------------------------------------------------------ */
static u64 undo[MAX_UNDO];
static u32 undo_n;

static u64 clamp_len(u64 len) { return len == 0 || len > EDU_MAX_LEN ? 8 : len; }

static void dma_read_case(u64 iova, u64 len) {
	ste_install(bypass_ste);
	edu_dma(MARKER_PAGE, EDU_BUF, len, 0);                 /* edu's buffer := marker */
	ste_install(case_ste);
	edu_dma(iova, EDU_BUF, len, 0);                        /* the case's read */
	events_drain();
	ste_install(bypass_ste);
	edu_dma(EDU_BUF, SCRATCH_PAGE, len, 1);                /* see what arrived */
	ste_install(case_ste);
	puts_("R");
	for (u64 i = 0; i < len; i += 8) sp_hex(r64(SCRATCH_PAGE + i));
	puts_("\n");
}

static void dma_write_case(u64 iova, u64 len) {
	ste_install(bypass_ste);
	edu_dma(PATTERN_PAGE, EDU_BUF, len, 0);                /* edu's buffer := pattern */
	ste_install(case_ste);
	edu_dma(EDU_BUF, iova, len, 1);                        /* the case's write */
	events_drain();
}

void agent_main(void) {
	w32(UART + 0x30, 0x301);                               /* UARTCR: UARTEN | TXE | RXE */
	gic_init();
	if (!edu_find()) { puts_("X no edu\n"); return; }
	for (u64 i = 0; i < 4096; i += 8) {
		w64(MARKER_PAGE + i, 0xeeeeeeeeeeeeeeeeULL);
		w64(PATTERN_PAGE + i, 0xa5a5000000000000ULL | (i << 16) | 0x5a5a);
		w64(SCRATCH_PAGE + i, 0);
	}
	smmu_init();
	puts_("I"); sp_hex(edu_sid); sp_hex(r32(SMMU + 0x0)); sp_hex(r32(SMMU + 0x4)); sp_hex(r32(SMMU + 0xc)); sp_hex(r32(SMMU + 0x14)); puts_("\n");
	volatile u64 *p = (volatile u64 *)SCRIPT;
	if (*p++ != SCRIPT_MAGIC) { puts_("X bad script\n"); return; }
	for (;;) {
		u64 op = *p++;
		if (op == OP_END) break;
		switch (op) {
		case OP_CASE: {
			u64 id = *p++;
			while (undo_n > 0) w64(undo[--undo_n], 0);
			dsb();
			puts_("C"); sp_hex(id); puts_("\n");
			break;
		}
		case OP_W64: {
			u64 a = *p++, v = *p++;
			w64(a, v);
			if (undo_n < MAX_UNDO) undo[undo_n++] = a;
			break;
		}
		case OP_STE:
			for (int i = 0; i < 8; i++) case_ste[i] = *p++;
			ste_install(case_ste);
			break;
		case OP_CMD: {
			u64 w0 = *p++, w1 = *p++;
			dsb();
			cmd_submit(w0, w1);
			cmd_sync();
			break;
		}
		case OP_DMA_RD: {
			u64 iova = *p++, len = clamp_len(*p++);
			dsb();
			dma_read_case(iova, len);
			break;
		}
		case OP_DMA_WR: {
			u64 iova = *p++, len = clamp_len(*p++);
			dsb();
			dma_write_case(iova, len);
			break;
		}
		case OP_PEEK: {
			u64 a = *p++;
			puts_("P"); sp_hex(r64(a)); puts_("\n");
			break;
		}
		default:
			puts_("X bad op"); sp_hex(op); puts_("\n");
			return;
		}
	}
	puts_("D\n");
}
