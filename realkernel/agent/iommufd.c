/*
 * smmu-nesting-tck guest agent, iommufd and VFIO cdev calls: the lines of
 * docs/transcript-iommufd.md, each run as written on the guest's kernel.
 *
 *   ifd <call>            one transcript call (its text as the transcript writes it, without
 *                         "= result"), answered "@@ <seq> > <result>" in transcript words
 *                         ("ok id=3", "EOPNOTSUPP", "ok entry_num=1", "F_TRANSLATION seq=0 ...",
 *                         "fault", "misplaced"), or "@@ <seq> ! <why>" when it cannot be run
 *   require /dev/iommu    the rest of this session's commands run only when the kernel has an
 *                         iommufd (else each is answered "!": not run)
 *
 * Objects are named by the transcript's numbers per kind (device 1, ioas 1, hwpt 2 ...); the
 * agent keeps the kernel ID each allocation returned and passes it where the transcript refers to
 * the object (0, which no iommufd object has, for a name never allocated). Guest RAM is the
 * buffers `ioas N map` gave the kernel: the agent writes the guest's context descriptors and
 * stage-1 tables into them at the IPAs the transcript names, so a nested domain's DMA walks
 * tables that really sit behind stage 2.
 *
 * The uAPI structs are declared here (Linux 7.1 include/uapi/linux/iommufd.h and vfio.h): the
 * cross compiler's kernel headers are older than iommufd's nesting calls.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "agent.h"

/* _IO(';', nr): iommufd's and VFIO's ioctls carry no size or direction. */
#define IO_SEMI(nr) (0x3b00u | (nr))
#define IOMMU_DESTROY IO_SEMI(0x80)
#define IOMMU_IOAS_ALLOC IO_SEMI(0x81)
#define IOMMU_IOAS_MAP IO_SEMI(0x85)
#define IOMMU_IOAS_UNMAP IO_SEMI(0x86)
#define IOMMU_HWPT_ALLOC IO_SEMI(0x89)
#define IOMMU_GET_HW_INFO IO_SEMI(0x8a)
#define IOMMU_HWPT_INVALIDATE IO_SEMI(0x8d)
#define IOMMU_VIOMMU_ALLOC IO_SEMI(0x90)
#define IOMMU_VDEVICE_ALLOC IO_SEMI(0x91)
#define IOMMU_VEVENTQ_ALLOC IO_SEMI(0x93)
#define VFIO_DEVICE_BIND_IOMMUFD IO_SEMI(100 + 18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT IO_SEMI(100 + 19)
#define VFIO_DEVICE_DETACH_IOMMUFD_PT IO_SEMI(100 + 20)

struct u_destroy { uint32_t size, id; };
struct u_ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct u_ioas_map { uint32_t size, flags, ioas_id, reserved; uint64_t user_va, length, iova; };
struct u_ioas_unmap { uint32_t size, ioas_id; uint64_t iova, length; };
struct u_hwpt_alloc {
	uint32_t size, flags, dev_id, pt_id, out_hwpt_id, reserved, data_type, data_len;
	uint64_t data_uptr;
	uint32_t fault_id, reserved2;
};
struct u_hw_info {
	uint32_t size, flags, dev_id, data_len;
	uint64_t data_uptr;
	uint32_t data_type;
	uint8_t out_max_pasid_log2, reserved[3];
	uint64_t out_capabilities;
};
struct u_hwpt_invalidate { uint32_t size, hwpt_id; uint64_t data_uptr; uint32_t data_type, entry_len, entry_num, reserved; };
struct u_viommu_alloc { uint32_t size, flags, type, dev_id, hwpt_id, out_viommu_id, data_len, reserved; uint64_t data_uptr; };
struct u_vdevice_alloc { uint32_t size, viommu_id, dev_id, out_vdevice_id; uint64_t virt_id; };
struct u_veventq_alloc { uint32_t size, flags, viommu_id, type, veventq_depth, out_veventq_id, out_veventq_fd, reserved; };
struct u_bind { uint32_t argsz, flags; int32_t iommufd; uint32_t out_devid; uint64_t token_uuid_ptr; };
struct u_attach { uint32_t argsz, flags, pt_id, pasid; };
struct u_detach { uint32_t argsz, flags, pasid; };

_Static_assert(sizeof(struct u_hwpt_alloc) == 48, "iommu_hwpt_alloc");
_Static_assert(sizeof(struct u_hw_info) == 40, "iommu_hw_info");
_Static_assert(sizeof(struct u_hwpt_invalidate) == 32, "iommu_hwpt_invalidate");
_Static_assert(sizeof(struct u_viommu_alloc) == 40, "iommu_viommu_alloc");
_Static_assert(sizeof(struct u_vdevice_alloc) == 24, "iommu_vdevice_alloc");
_Static_assert(sizeof(struct u_veventq_alloc) == 32, "iommu_veventq_alloc");
_Static_assert(sizeof(struct u_bind) == 24, "vfio_device_bind_iommufd");

#define IOMMU_IOAS_MAP_FIXED_IOVA 1
#define IOMMU_IOAS_MAP_WRITEABLE 2
#define IOMMU_IOAS_MAP_READABLE 4
#define IOMMU_VEVENTQ_FLAG_LOST_EVENTS 1
#define IOMMU_HW_INFO_FLAG_INPUT_TYPE 1

/* ------------------------------------------------------------------------------------------ */
/* State of one session (transcript) */

#define MAX_NAME 64
#define MAX_RAM 64
#define MAX_WORDS 64

enum kind { K_DEVICE, K_IOAS, K_HWPT, K_VIOMMU, K_VDEVICE, K_VEVENTQ, K_COUNT };
static const char *const kind_names[K_COUNT] = { "device", "ioas", "hwpt", "viommu", "vdevice", "veventq" };

static int iommufd = -1;
static int skipping;
/* Transcript name -> kernel object ID (0: none). */
static uint32_t ids[K_COUNT][MAX_NAME];
/* The IOAS (transcript number) whose addresses a HWPT or vIOMMU translates into, 0: unknown. */
static int hwpt_ioas[MAX_NAME], viommu_ioas[MAX_NAME];
/* A vEVENTQ's fd: -1 none yet (or its alloc failed), VEVENTQ_FD_CLOSED after `veventq N close`. */
#define VEVENTQ_FD_CLOSED (-2)
static int veventq_fd[MAX_NAME] = { [0 ... MAX_NAME - 1] = -1 };

struct cdev {
	int open;
	struct device dev;
	int ready;       /* BAR0 mapped, bus master on */
	int ioas;        /* the IOAS its attached domain ends in, 0: unknown */
};
static struct cdev cdevs[MAX_NAME];

/* Guest RAM: a buffer IOMMU_IOAS_MAP gave the kernel, at IPA ipa of IOAS ioas. */
struct ram {
	int ioas;
	uint64_t ipa, size;
	uint8_t *data;
	uint8_t *base;
	size_t length;
	int live;        /* 0 once unmapped (kept until the session ends) */
};
static struct ram rams[MAX_RAM];
static int nrams;

void iommufd_end_session(void)
{
	for (int i = 0; i < MAX_NAME; i++) {
		if (veventq_fd[i] >= 0)
			close(veventq_fd[i]);
		veventq_fd[i] = -1;
		if (cdevs[i].open) {
			close_device(&cdevs[i].dev);
			cdevs[i].open = 0;
		}
		cdevs[i].ready = 0;
		cdevs[i].ioas = 0;
		hwpt_ioas[i] = viommu_ioas[i] = 0;
	}
	memset(ids, 0, sizeof ids);
	if (iommufd >= 0)
		close(iommufd);
	iommufd = -1;
	for (int i = 0; i < nrams; i++)
		munmap(rams[i].base, rams[i].length);
	nrams = 0;
	skipping = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Replies */

static void result(const char *fmt, ...)
{
	va_list ap;

	printf("@@ %ld > ", seq);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void failed(int e)
{
	result("%s", errno_name(e));
}

/* A line the agent cannot run: "@@ <seq> ! <why>". */
static void problem(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	agent_error("%s", buf);
}

/* ------------------------------------------------------------------------------------------ */
/* Words of a call: blank-separated outside quotes; key=value, the value's quotes removed */

struct word {
	char *key;   /* NULL for a bare word */
	char *value; /* the bare word, or the value */
	int used;
};

static int split_words(char *s, struct word *w, int max)
{
	int n = 0;

	while (*s) {
		char *start, *out;
		int quoted = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (n == max)
			return -1;
		start = out = s;
		for (; *s && (quoted || (*s != ' ' && *s != '\t')); s++) {
			if (*s == '"')
				quoted = !quoted;
			else
				*out++ = *s;
		}
		if (quoted)
			return -1;
		if (*s)
			s++;
		*out = 0;
		w[n].used = 0;
		w[n].key = NULL;
		w[n].value = start;
		{
			char *eq = strchr(start, '=');
			if (eq && eq != start) {
				*eq = 0;
				w[n].key = start;
				w[n].value = eq + 1;
			}
		}
		n++;
	}
	return n;
}

/* The value of key (the first not yet used one when repeated); NULL: not given. */
static const char *arg(struct word *w, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (w[i].key && !w[i].used && !strcmp(w[i].key, key)) {
			w[i].used = 1;
			return w[i].value;
		}
	return NULL;
}

/* A bare word among the arguments (r, w, rw, all ...). */
static int bare(struct word *w, int n, const char *word)
{
	for (int i = 0; i < n; i++)
		if (!w[i].key && !w[i].used && !strcmp(w[i].value, word)) {
			w[i].used = 1;
			return 1;
		}
	return 0;
}

/* The first argument not taken by the call: NULL when all were. */
static const char *leftover(struct word *w, int n)
{
	static char buf[128];

	for (int i = 0; i < n; i++)
		if (!w[i].used) {
			snprintf(buf, sizeof buf, "%s%s%s", w[i].key ? w[i].key : "", w[i].key ? "=" : "", w[i].value);
			return buf;
		}
	return NULL;
}

struct name {
	const char *name;
	uint64_t value;
};

static const struct name hwpt_flags[] = { { "NEST_PARENT", 1 }, { "DIRTY_TRACKING", 2 }, { "FAULT_ID_VALID", 4 }, { "PASID", 8 }, { 0, 0 } };
static const struct name map_flags[] = { { "FIXED_IOVA", 1 }, { "WRITEABLE", 2 }, { "READABLE", 4 }, { 0, 0 } };
static const struct name hwpt_data_types[] = { { "NONE", 0 }, { "VTD_S1", 1 }, { "ARM_SMMUV3", 2 }, { "AMD_GUEST", 3 }, { 0, 0 } };
static const struct name hw_info_types[] = { { "DEFAULT", 0 }, { "NONE", 0 }, { "INTEL_VTD", 1 }, { "ARM_SMMUV3", 2 }, { "TEGRA241_CMDQV", 3 }, { "AMD", 4 }, { 0, 0 } };
static const struct name viommu_types[] = { { "DEFAULT", 0 }, { "ARM_SMMUV3", 1 }, { "TEGRA241_CMDQV", 2 }, { 0, 0 } };
static const struct name invalidate_types[] = { { "VTD_S1", 0 }, { "ARM_SMMUV3", 1 }, { 0, 0 } };
static const struct name no_names[] = { { 0, 0 } };

/* A value: names of `names` or numbers, ORed when joined by '|'. */
static int parse_named(const struct name *names, const char *s, uint64_t *out)
{
	char buf[256], *part, *save;

	if (!s || !*s || strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	*out = 0;
	for (part = strtok_r(buf, "|", &save); part; part = strtok_r(NULL, "|", &save)) {
		uint64_t v;
		const struct name *nm;
		for (nm = names; nm->name && strcmp(nm->name, part); nm++)
			;
		if (nm->name)
			v = nm->value;
		else if (parse_u64(part, &v))
			return -1;
		*out |= v;
	}
	return 0;
}

/* A transcript object number 1..MAX_NAME-1. */
static int parse_number(const char *s, int *n)
{
	uint64_t v;

	if (parse_u64(s, &v) || v == 0 || v >= MAX_NAME)
		return -1;
	*n = (int)v;
	return 0;
}

/*
 * A reference: "N" (of kind `deflt`; -1: a kind must be written), "kind:N", or "id:NUMBER".
 * *kind_out and *name_out say which transcript object it named (name 0 for a raw ID).
 */
static int parse_ref(const char *s, int deflt, uint32_t *id, int *kind_out, int *name_out)
{
	const char *colon = s ? strchr(s, ':') : NULL;
	int kind = deflt, n;
	uint64_t raw;

	if (!s)
		return -1;
	if (colon) {
		size_t len = (size_t)(colon - s);
		if (len == 2 && !strncmp(s, "id", 2)) {
			if (parse_u64(colon + 1, &raw) || raw > 0xffffffffu)
				return -1;
			*id = (uint32_t)raw;
			*kind_out = -1;
			*name_out = 0;
			return 0;
		}
		for (kind = 0; kind < K_COUNT && !(strlen(kind_names[kind]) == len && !strncmp(s, kind_names[kind], len)); kind++)
			;
		if (kind == K_COUNT)
			return -1;
		s = colon + 1;
	}
	if (kind < 0 || parse_number(s, &n))
		return -1;
	*id = ids[kind][n];
	*kind_out = kind;
	*name_out = n;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Bit fields of STEs, commands and CDs (docs/transcript-iommufd.md sections 4, 5, 7) */

struct field {
	const char *name;
	int word, lo, hi;
	int address;               /* an address placed as is (its low `lo` bits must be 0) */
	const struct name *names;  /* value names, or NULL */
};

static const struct name cfg_names[] = { { "abort", 0 }, { "bypass", 4 }, { "s1", 5 }, { "s2", 6 }, { "nested", 7 }, { 0, 0 } };
static const struct name tg0_names[] = { { "4K", 0 }, { "64K", 1 }, { "16K", 2 }, { 0, 0 } };

static const struct field ste_fields[] = {
	{ "v", 0, 0, 0, 0, NULL }, { "cfg", 0, 1, 3, 0, cfg_names }, { "s1fmt", 0, 4, 5, 0, NULL },
	{ "s1ctxptr", 0, 6, 51, 1, NULL }, { "s1cdmax", 0, 59, 63, 0, NULL },
	{ "s1dss", 1, 0, 1, 0, NULL }, { "s1cir", 1, 2, 3, 0, NULL }, { "s1cor", 1, 4, 5, 0, NULL },
	{ "s1csh", 1, 6, 7, 0, NULL }, { "dre", 1, 12, 12, 0, NULL }, { "cont", 1, 13, 16, 0, NULL },
	{ "dcp", 1, 17, 17, 0, NULL }, { "ppar", 1, 18, 18, 0, NULL }, { "mev", 1, 19, 19, 0, NULL },
	{ "s2fwb", 1, 25, 25, 0, NULL }, { "s1stalld", 1, 27, 27, 0, NULL }, { "eats", 1, 28, 29, 0, NULL },
	{ "strw", 1, 30, 31, 0, NULL }, { "memattr", 1, 32, 35, 0, NULL }, { "mtcfg", 1, 36, 36, 0, NULL },
	{ "alloccfg", 1, 37, 40, 0, NULL }, { "shcfg", 1, 44, 45, 0, NULL }, { "nscfg", 1, 46, 47, 0, NULL },
	{ "privcfg", 1, 48, 49, 0, NULL }, { "instcfg", 1, 50, 51, 0, NULL }, { NULL, 0, 0, 0, 0, NULL },
};

/* Command fields; each opcode lists the ones it takes. */
static const struct field cmd_fields[] = {
	{ "sid", 0, 32, 63, 0, NULL }, { "ssv", 0, 11, 11, 0, NULL }, { "ssid", 0, 12, 31, 0, NULL },
	{ "leaf", 1, 0, 0, 0, NULL }, { "range", 1, 0, 4, 0, NULL }, { "vmid", 0, 32, 47, 0, NULL },
	{ "asid", 0, 48, 63, 0, NULL }, { "num", 0, 12, 16, 0, NULL }, { "scale", 0, 20, 24, 0, NULL },
	{ "ttl", 1, 8, 9, 0, NULL }, { "tg", 1, 10, 11, 0, NULL }, { "addr", 1, 12, 63, 1, NULL },
	{ "global", 0, 9, 9, 0, NULL }, { "size", 1, 0, 5, 0, NULL }, { "cs", 0, 12, 13, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};
static const struct field ipa_addr_field = { "addr", 1, 12, 51, 1, NULL };

static const struct {
	const char *name;
	uint8_t opcode;
	const char *fields; /* " a b c " */
} opcodes[] = {
	{ "PREFETCH_CONFIG", 0x01, " sid ssv ssid " },
	{ "CFGI_STE", 0x03, " sid leaf " },
	{ "CFGI_STE_RANGE", 0x04, " sid range " },
	{ "CFGI_CD", 0x05, " sid ssv ssid leaf " },
	{ "CFGI_CD_ALL", 0x06, " sid " },
	{ "TLBI_NH_ALL", 0x10, " vmid " },
	{ "TLBI_NH_ASID", 0x11, " vmid asid " },
	{ "TLBI_NH_VA", 0x12, " num scale vmid asid leaf ttl tg addr " },
	{ "TLBI_NH_VAA", 0x13, " num scale vmid leaf ttl tg addr " },
	{ "TLBI_EL2_ALL", 0x20, " " },
	{ "TLBI_EL2_ASID", 0x21, " asid " },
	{ "TLBI_EL2_VA", 0x22, " num scale asid leaf ttl tg addr " },
	{ "TLBI_EL2_VAA", 0x23, " num scale leaf ttl tg addr " },
	{ "TLBI_S12_VMALL", 0x28, " vmid " },
	{ "TLBI_S2_IPA", 0x2a, " num scale vmid leaf ttl tg addr " },
	{ "TLBI_NSNH_ALL", 0x30, " " },
	{ "ATC_INV", 0x40, " ssv ssid sid global size addr " },
	{ "PRI_RESP", 0x41, " sid " },
	{ "CMD_SYNC", 0x46, " cs " },
	{ NULL, 0, NULL },
};

static const struct field cd_fields[] = {
	{ "t0sz", 0, 0, 5, 0, NULL }, { "tg0", 0, 6, 7, 0, tg0_names }, { "ir0", 0, 8, 9, 0, NULL },
	{ "or0", 0, 10, 11, 0, NULL }, { "sh0", 0, 12, 13, 0, NULL }, { "epd0", 0, 14, 14, 0, NULL },
	{ "endi", 0, 15, 15, 0, NULL }, { "epd1", 0, 30, 30, 0, NULL }, { "v", 0, 31, 31, 0, NULL },
	{ "ips", 0, 32, 34, 0, NULL }, { "affd", 0, 35, 35, 0, NULL }, { "wxn", 0, 36, 36, 0, NULL },
	{ "uwxn", 0, 37, 37, 0, NULL }, { "tbi", 0, 38, 39, 0, NULL }, { "pan", 0, 40, 40, 0, NULL },
	{ "aa64", 0, 41, 41, 0, NULL }, { "hd", 0, 42, 42, 0, NULL }, { "ha", 0, 43, 43, 0, NULL },
	{ "s", 0, 44, 44, 0, NULL }, { "r", 0, 45, 45, 0, NULL }, { "a", 0, 46, 46, 0, NULL },
	{ "aset", 0, 47, 47, 0, NULL }, { "asid", 0, 48, 63, 0, NULL },
	{ "ttb0", 1, 4, 51, 1, NULL }, { "had0", 1, 1, 1, 0, NULL }, { "mair", 3, 0, 63, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static uint64_t field_mask(const struct field *f)
{
	int width = f->hi - f->lo + 1;
	return (width == 64 ? ~0ull : ((1ull << width) - 1)) << f->lo;
}

/* Puts value into its field of w[] (replacing what was there); -1 with *why on a bad value. */
static int put_field(const struct field *f, const char *text, uint64_t *w, const char **why)
{
	uint64_t v;

	if (text == NULL)
		v = 1;
	else if (f->names ? parse_named(f->names, text, &v) : parse_u64(text, &v)) {
		*why = "not a number";
		return -1;
	}
	if (f->address) {
		if (v & ((1ull << f->lo) - 1)) {
			*why = "an address not aligned to its field";
			return -1;
		}
		if (f->hi < 63 && (v >> (f->hi + 1))) {
			*why = "an address wider than its field";
			return -1;
		}
	} else {
		int width = f->hi - f->lo + 1;
		if (width < 64 && (v >> width)) {
			*why = "a value wider than its field";
			return -1;
		}
		v <<= f->lo;
	}
	w[f->word] = (w[f->word] & ~field_mask(f)) | v;
	return 0;
}

/*
 * The words of a quoted field list: "name[=value] ..." (a bare name is 1), "wN=raw" ORed in.
 * `allowed` (" a b ") limits the names, NULL allows every field of `fields`. The first word may be
 * an opcode (commands: opcode_out non-NULL). 0, or -1 with the reason in err.
 */
static int pack(const char *text, const struct field *fields, const char *allowed, uint64_t *w, int nwords, int *opcode_out, char *err, size_t errlen)
{
	char buf[512], *tok, *save;
	int first = 1;

	if (strlen(text) >= sizeof buf) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	strcpy(buf, text);
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save), first = 0) {
		char *eq = strchr(tok, '=');
		const char *value = eq ? eq + 1 : NULL;
		const struct field *f;
		const char *why = NULL;

		if (eq)
			*eq = 0;
		if (tok[0] == 'w' && tok[1] >= '0' && tok[1] <= '9' && !tok[2] && value) {
			uint64_t raw;
			int i = tok[1] - '0';
			if (i >= nwords || parse_u64(value, &raw)) {
				snprintf(err, errlen, "bad raw word %s", tok);
				return -1;
			}
			w[i] |= raw;
			continue;
		}
		if (first && opcode_out && !value) {
			uint64_t op;
			int k;
			for (k = 0; opcodes[k].name && strcmp(opcodes[k].name, tok); k++)
				;
			if (opcodes[k].name) {
				*opcode_out = k;
				op = opcodes[k].opcode;
			} else if (!parse_u64(tok, &op) && op <= 0xff) {
				*opcode_out = -1;
				for (k = 0; opcodes[k].name; k++)
					if (opcodes[k].opcode == op)
						*opcode_out = k;
			} else {
				snprintf(err, errlen, "unknown opcode %s", tok);
				return -1;
			}
			w[0] = (w[0] & ~0xffull) | op;
			allowed = *opcode_out >= 0 ? opcodes[*opcode_out].fields : NULL;
			continue;
		}
		if (allowed) {
			char needle[40];
			snprintf(needle, sizeof needle, " %s ", tok);
			if (!strstr(allowed, needle)) {
				snprintf(err, errlen, "field %s does not belong here", tok);
				return -1;
			}
		}
		for (f = fields; f->name && strcmp(f->name, tok); f++)
			;
		if (!f->name) {
			snprintf(err, errlen, "unknown field %s", tok);
			return -1;
		}
		if (opcode_out && *opcode_out >= 0 && opcodes[*opcode_out].opcode == 0x2a && !strcmp(tok, "addr"))
			f = &ipa_addr_field;
		if (put_field(f, value, w, &why)) {
			snprintf(err, errlen, "%s=%s: %s", tok, value ? value : "1", why);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The iommufd and the devices' cdevs */

static int need_iommufd(void)
{
	if (iommufd < 0)
		iommufd = open("/dev/iommu", O_RDWR);
	return iommufd;
}

/* device N's cdev, opened on first use: 0, or an errno (a result) or -1 (a problem, said). */
static int open_cdev(int n)
{
	char dir[128], path[300];
	const char *bdf = alias_device(n);
	struct dirent *d;
	DIR *dp;
	int fd;

	if (cdevs[n].open)
		return 0;
	if (!bdf) {
		problem("NO_DEVICE: no alias for group %d", n);
		return -1;
	}
	snprintf(dir, sizeof dir, "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dp = opendir(dir);
	if (!dp) {
		problem("NO_DEVICE: %s has no vfio-dev (no VFIO device cdev: CONFIG_VFIO_DEVICE_CDEV?)", bdf);
		return -1;
	}
	path[0] = 0;
	while ((d = readdir(dp)))
		if (!strncmp(d->d_name, "vfio", 4))
			snprintf(path, sizeof path, "/dev/vfio/devices/%s", d->d_name);
	closedir(dp);
	if (!path[0]) {
		problem("NO_DEVICE: %s has no vfioX under vfio-dev", bdf);
		return -1;
	}
	fd = open(path, O_RDWR);
	if (fd < 0)
		return errno;
	cdevs[n].open = 1;
	cdevs[n].ready = 0;
	cdevs[n].dev.fd = fd;
	cdevs[n].dev.bar0 = NULL;
	return 0;
}

/* The IOAS a page table reference translates into (transcript number, 0: unknown). */
static int ioas_of(int kind, int name)
{
	if (name <= 0)
		return 0;
	if (kind == K_IOAS)
		return name;
	if (kind == K_HWPT)
		return hwpt_ioas[name];
	if (kind == K_VIOMMU)
		return viommu_ioas[name];
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Guest RAM */

/* The buffer holding [ipa, ipa+size) of IOAS ioas (0: whichever IOAS has it, if only one). */
static struct ram *ram_at(int ioas, uint64_t ipa, uint64_t size, const char **why)
{
	struct ram *found = NULL;

	for (int i = 0; i < nrams; i++) {
		struct ram *r = &rams[i];
		if (!r->live || (ioas && r->ioas != ioas) || ipa < r->ipa || ipa + size > r->ipa + r->size || ipa + size < ipa)
			continue;
		if (found && found->ioas != r->ioas) {
			*why = "NO_GUEST_RAM: the IPA is in two IOASes' RAM: name one with ioas=";
			return NULL;
		}
		found = r;
	}
	if (!found)
		*why = "NO_GUEST_RAM: no ioas map buffer holds that IPA range";
	return found;
}

static int ioas_arg(struct word *w, int n, int *ioas)
{
	const char *s = arg(w, n, "ioas");

	*ioas = 0;
	return s ? parse_number(s, ioas) : 0;
}

static void put64(struct ram *r, uint64_t ipa, uint64_t v)
{
	memcpy(r->data + (ipa - r->ipa), &v, 8);
}

static const struct { unsigned bits, enc; } ips_codes[] = { { 32, 0 }, { 36, 1 }, { 40, 2 }, { 42, 3 }, { 44, 4 }, { 48, 5 }, { 52, 6 } };

static void do_guest(struct word *w, int n)
{
	const char *what = w[1].value, *why = NULL;
	uint64_t ipa, v;
	int ioas;
	struct ram *r;

	w[1].used = 1;
	if (parse_u64(arg(w, n, "ipa"), &ipa) || ioas_arg(w, n, &ioas))
		return problem("guest %s: needs ipa= (and a number for ioas=)", what);
	if (ipa & 7)
		return problem("guest %s: ipa=0x%llx is not 8-byte aligned", what, (unsigned long long)ipa);

	if (!strcmp(what, "write64")) {
		if (parse_u64(arg(w, n, "value"), &v))
			return problem("%s", "guest write64: needs value=");
		if (leftover(w, n))
			return problem("guest write64: unknown argument %s", leftover(w, n));
		if (!(r = ram_at(ioas, ipa, 8, &why)))
			return problem("%s", why);
		put64(r, ipa, v);
		return result("ok");
	}
	if (!strcmp(what, "cd")) {
		/* Linux's arm_smmu_make_s1_cd for a coherent stage-1 domain: V AA64 R A ASET EPD1, IR0=OR0=WBWA, SH0=IS. */
		uint64_t cd[8] = { (1ull << 31) | (1ull << 41) | (1ull << 45) | (1ull << 46) | (1ull << 47) | (1ull << 30) | (1ull << 8) | (1ull << 10) | (3ull << 12), 0, 0, 0, 0, 0, 0, 0 };
		char err[160];
		static const char *const required[] = { "asid", "ttb0", "t0sz", "tg0", "ips" };
		if (ipa & 63)
			return problem("guest cd: ipa=0x%llx is not 64-byte aligned", (unsigned long long)ipa);
		for (size_t k = 0; k < sizeof required / sizeof *required; k++) {
			int have = 0;
			for (int i = 0; i < n; i++)
				have |= w[i].key && !strcmp(w[i].key, required[k]);
			if (!have)
				return problem("guest cd: needs %s=", required[k]);
		}
		for (int i = 2; i < n; i++) {
			char one[160];
			const char *val = w[i].value;
			char ipsbuf[8];
			if (w[i].used)
				continue;
			if (w[i].key && !strcmp(w[i].key, "ips")) {
				uint64_t bits;
				size_t k;
				if (parse_u64(val, &bits))
					return problem("%s", "guest cd: ips= takes a number of bits");
				for (k = 0; k < sizeof ips_codes / sizeof *ips_codes && ips_codes[k].bits != bits; k++)
					;
				if (k == sizeof ips_codes / sizeof *ips_codes)
					return problem("guest cd: ips=%s: one of 32 36 40 42 44 48 52", val);
				snprintf(ipsbuf, sizeof ipsbuf, "%u", ips_codes[k].enc);
				val = ipsbuf;
			}
			snprintf(one, sizeof one, "%s%s%s", w[i].key ? w[i].key : w[i].value, w[i].key ? "=" : "", w[i].key ? val : "");
			if (pack(one, cd_fields, NULL, cd, 4, NULL, err, sizeof err))
				return problem("guest cd: %s", err);
			w[i].used = 1;
		}
		if (!(r = ram_at(ioas, ipa, 64, &why)))
			return problem("%s", why);
		for (int i = 0; i < 8; i++)
			put64(r, ipa + 8 * i, cd[i]);
		return result("ok");
	}
	if (!strcmp(what, "table") || !strcmp(what, "page") || !strcmp(what, "block")) {
		uint64_t index, out, attr = 0, desc;
		const char *perm, *attr_s;
		int table = !strcmp(what, "table");
		if (parse_u64(arg(w, n, "index"), &index) || index >= 8192 || parse_u64(arg(w, n, table ? "next" : "out"), &out))
			return problem("guest %s: needs index= and %s=", what, table ? "next" : "out");
		perm = table ? NULL : arg(w, n, "perm");
		attr_s = table ? NULL : arg(w, n, "attr");
		if (attr_s && (parse_u64(attr_s, &attr) || attr > 7))
			return problem("%s", "attr= is 0..7");
		if (perm && strcmp(perm, "rw") && strcmp(perm, "r"))
			return problem("%s", "perm= is rw or r");
		if (leftover(w, n))
			return problem("guest %s: unknown argument %s", what, leftover(w, n));
		if (out & 0xfff || out >> 48)
			return problem("guest %s: 0x%llx is not a 4K-aligned address below 2^48", what, (unsigned long long)out);
		if (table)
			desc = out | 3;
		else
			desc = out | (!strcmp(what, "page") ? 3 : 1) | (attr << 2) | ((perm && !strcmp(perm, "r")) ? 3ull << 6 : 1ull << 6) |
			       (3ull << 8) | (1ull << 10) | (1ull << 11);
		if (!(r = ram_at(ioas, ipa + 8 * index, 8, &why)))
			return problem("%s", why);
		put64(r, ipa + 8 * index, desc);
		return result("ok");
	}
	problem("unknown guest line %s", what);
}

/* ------------------------------------------------------------------------------------------ */
/* Calls */

static void ok_id(uint32_t id)
{
	result("ok id=%u", id);
}

static void do_device(int dn, struct word *w, int n)
{
	const char *verb = w[2].value;
	struct cdev *c = &cdevs[dn];
	int e;

	w[2].used = 1;
	if (!strcmp(verb, "close")) {
		if (leftover(w, n))
			return problem("device close: unknown argument %s", leftover(w, n));
		if (!c->open)
			return problem("%s", "device close: the device is not open");
		close_device(&c->dev);
		c->open = c->ready = 0;
		return result("ok");
	}
	if ((e = open_cdev(dn)))
		return e > 0 ? failed(e) : (void)0;

	if (!strcmp(verb, "bind")) {
		struct u_bind b = { .argsz = sizeof b };
		if (leftover(w, n))
			return problem("device bind: unknown argument %s", leftover(w, n));
		if (need_iommufd() < 0)
			return failed(errno);
		b.iommufd = iommufd;
		if (ioctl(c->dev.fd, VFIO_DEVICE_BIND_IOMMUFD, &b) < 0)
			return failed(errno);
		ids[K_DEVICE][dn] = b.out_devid;
		return ok_id(b.out_devid);
	}
	if (!strcmp(verb, "attach")) {
		struct u_attach a = { .argsz = sizeof a };
		int kind, name;
		if (parse_ref(arg(w, n, "pt"), -1, &a.pt_id, &kind, &name))
			return problem("%s", "device attach: needs pt=<kind>:<n> or pt=id:<number>");
		if (leftover(w, n))
			return problem("device attach: unknown argument %s", leftover(w, n));
		if (ioctl(c->dev.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a) < 0)
			return failed(errno);
		c->ioas = ioas_of(kind, name);
		return result("ok");
	}
	if (!strcmp(verb, "detach")) {
		struct u_detach d = { .argsz = sizeof d };
		if (leftover(w, n))
			return problem("device detach: unknown argument %s", leftover(w, n));
		if (ioctl(c->dev.fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d) < 0)
			return failed(errno);
		c->ioas = 0;
		return result("ok");
	}
	if (!strcmp(verb, "hw_info")) {
		uint32_t data[16] = { 0 };
		struct u_hw_info h = { .size = sizeof h, .dev_id = ids[K_DEVICE][dn], .data_len = sizeof data, .data_uptr = (uintptr_t)data };
		const char *type = arg(w, n, "type");
		uint64_t t;
		const char *tn = NULL;
		if (type) {
			if (parse_named(hw_info_types, type, &t))
				return problem("hw_info: bad type=%s", type);
			h.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
			h.data_type = (uint32_t)t;
		}
		if (leftover(w, n))
			return problem("device hw_info: unknown argument %s", leftover(w, n));
		if (need_iommufd() < 0)
			return failed(errno);
		if (ioctl(iommufd, IOMMU_GET_HW_INFO, &h) < 0)
			return failed(errno);
		for (const struct name *nm = hw_info_types + 1; nm->name; nm++)
			if (nm->value == h.data_type)
				tn = nm->name;
		if (h.data_type == 2)
			return result("ok type=ARM_SMMUV3 data_len=0x%x caps=0x%llx max_pasid_log2=0x%x flags=0x%x idr0=0x%x idr1=0x%x idr2=0x%x idr3=0x%x idr4=0x%x idr5=0x%x iidr=0x%x aidr=0x%x",
				      h.data_len, (unsigned long long)h.out_capabilities, h.out_max_pasid_log2, data[0], data[2], data[3], data[4], data[5], data[6], data[7], data[8], data[9]);
		if (h.data_type == 1)
			return result("ok type=INTEL_VTD data_len=0x%x caps=0x%llx max_pasid_log2=0x%x flags=0x%x cap_reg=0x%llx ecap_reg=0x%llx", h.data_len,
				      (unsigned long long)h.out_capabilities, h.out_max_pasid_log2, data[0],
				      (unsigned long long)data[2] | (unsigned long long)data[3] << 32, (unsigned long long)data[4] | (unsigned long long)data[5] << 32);
		if (tn)
			return result("ok type=%s data_len=0x%x caps=0x%llx max_pasid_log2=0x%x", tn, h.data_len, (unsigned long long)h.out_capabilities, h.out_max_pasid_log2);
		return result("ok type=0x%x data_len=0x%x caps=0x%llx max_pasid_log2=0x%x", h.data_type, h.data_len, (unsigned long long)h.out_capabilities, h.out_max_pasid_log2);
	}
	if (!strcmp(verb, "dma")) {
		static unsigned pattern = 0x5a;
		const char *dir = n > 3 && !w[3].key ? w[3].value : "", *ipa_s, *why = NULL, *err = NULL;
		uint64_t iova, size, ipa = 0;
		int to_ram, faults;
		struct ram *r = NULL;
		uint8_t fill, other;

		if (n > 3)
			w[3].used = 1;
		to_ram = !strcmp(dir, "write");
		if (!to_ram && strcmp(dir, "read"))
			return problem("%s", "device dma: read or write");
		if (parse_u64(arg(w, n, "iova"), &iova) || parse_u64(arg(w, n, "size"), &size))
			return problem("%s", "device dma: needs iova= and size=");
		if (size == 0 || size > EDU_BUFFER_SIZE)
			return problem("%s", "device dma: edu moves 1 to 4096 bytes");
		ipa_s = arg(w, n, "ipa");
		if (ipa_s && parse_u64(ipa_s, &ipa))
			return problem("%s", "device dma: ipa= is an address");
		if (leftover(w, n))
			return problem("device dma: unknown argument %s", leftover(w, n));
		if (ipa_s && !(r = ram_at(c->ioas, ipa, size, &why)))
			return problem("%s", why);
		if (!c->ready) {
			if ((err = edu_setup(&c->dev)))
				return problem("device dma: %s", err);
			c->ready = 1;
		}
		/* A fill the device's data does not hold: it changes every time. */
		pattern = (pattern * 37 + 11) & 0xff;
		fill = (uint8_t)pattern;
		other = (uint8_t)(fill ^ 0xff);
		if (r)
			memset(r->data + (ipa - r->ipa), fill, size);
		faults = edu_dma(&c->dev, to_ram, iova, size, &err);
		if (err)
			return problem("%s", err);
		if (faults < 0)
			return problem("%s", "device dma: neither the kernel log nor the event interrupts could be read");
		if (faults > 0)
			return result("fault");
		if (!r)
			return result("ok");
		if (to_ram) {
			int landed = 0;
			for (uint64_t i = 0; i < size; i++)
				landed |= r->data[ipa - r->ipa + i] != fill;
			/*
			 * Not at the IPA and no event: misplaced (docs/transcript-iommufd.md 3.6), whether
			 * the bytes went elsewhere or were dropped (an STE that aborts records nothing).
			 */
			return result(landed ? "ok" : "misplaced");
		}
		/*
		 * A read: edu's buffer cannot be read by the CPU, so what the device read is written back
		 * through the same address, over a different fill; the read's bytes must come back, else
		 * the read is misplaced (an STE that aborts drops both without an event).
		 */
		memset(r->data + (ipa - r->ipa), other, size);
		faults = edu_dma(&c->dev, 1, iova, size, &err);
		if (err)
			return problem("%s", err);
		if (faults != 0)
			return problem("%s", "device dma read: writing what was read back through the same address faulted, so where the read came from cannot be told");
		{
			int same = 1;
			for (uint64_t i = 0; i < size; i++)
				same &= r->data[ipa - r->ipa + i] == fill;
			return result(same ? "ok" : "misplaced");
		}
	}
	problem("unknown device call %s", verb);
}

static void do_ioas(int in, struct word *w, int n)
{
	const char *verb = w[2].value;

	w[2].used = 1;
	if (need_iommufd() < 0)
		return failed(errno);
	if (!strcmp(verb, "alloc")) {
		struct u_ioas_alloc a = { .size = sizeof a };
		if (leftover(w, n))
			return problem("ioas alloc: unknown argument %s", leftover(w, n));
		if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &a) < 0)
			return failed(errno);
		ids[K_IOAS][in] = a.out_ioas_id;
		return ok_id(a.out_ioas_id);
	}
	if (!strcmp(verb, "map")) {
		struct u_ioas_map m = { .size = sizeof m, .ioas_id = ids[K_IOAS][in] };
		const char *flags = arg(w, n, "flags"), *vaddr = arg(w, n, "vaddr");
		uint64_t f = IOMMU_IOAS_MAP_FIXED_IOVA;
		size_t length;
		uint8_t *buf;
		int e;

		if (parse_u64(arg(w, n, "iova"), &m.iova) || parse_u64(arg(w, n, "size"), &m.length))
			return problem("%s", "ioas map: needs iova= and size=");
		if (bare(w, n, "rw"))
			f |= IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
		else if (bare(w, n, "w"))
			f |= IOMMU_IOAS_MAP_WRITEABLE;
		else if (bare(w, n, "r"))
			f |= IOMMU_IOAS_MAP_READABLE;
		else if (!flags)
			return problem("%s", "ioas map: r, w or rw (or flags=)");
		if (flags && parse_named(map_flags, flags, &f))
			return problem("ioas map: bad flags=%s", flags);
		if (vaddr && strcmp(vaddr, "misaligned") && strcmp(vaddr, "unmapped"))
			return problem("%s", "ioas map: vaddr= is misaligned or unmapped");
		if (leftover(w, n))
			return problem("ioas map: unknown argument %s", leftover(w, n));
		if (nrams == MAX_RAM)
			return problem("%s", "ioas map: too many buffers in one session");
		m.flags = (uint32_t)f;
		length = round_up(m.length ? m.length : 1, page_size()) + page_size();
		buf = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			return problem("%s", "ioas map: mmap of the buffer failed");
		memset(buf, 0, length); /* every page touched */
		m.user_va = (uintptr_t)buf + (vaddr && !strcmp(vaddr, "misaligned") ? 1 : 0);
		if (vaddr && !strcmp(vaddr, "unmapped"))
			munmap(buf, length);
		e = ioctl(iommufd, IOMMU_IOAS_MAP, &m) < 0 ? errno : 0;
		if (vaddr && !strcmp(vaddr, "unmapped"))
			return e ? failed(e) : result("ok");
		if (e) {
			munmap(buf, length);
			return failed(e);
		}
		rams[nrams++] = (struct ram){ in, m.iova, m.length, (uint8_t *)(uintptr_t)m.user_va, buf, length, 1 };
		return result("ok");
	}
	if (!strcmp(verb, "unmap")) {
		struct u_ioas_unmap u = { .size = sizeof u, .ioas_id = ids[K_IOAS][in] };
		if (bare(w, n, "all")) {
			u.iova = 0;
			u.length = ~0ull;
		} else if (parse_u64(arg(w, n, "iova"), &u.iova) || parse_u64(arg(w, n, "size"), &u.length))
			return problem("%s", "ioas unmap: needs iova= and size=, or all");
		if (leftover(w, n))
			return problem("ioas unmap: unknown argument %s", leftover(w, n));
		if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &u) < 0)
			return failed(errno);
		for (int i = 0; i < nrams; i++)
			if (rams[i].ioas == in && rams[i].ipa < u.iova + u.length && u.iova < rams[i].ipa + rams[i].size)
				rams[i].live = 0;
		return result("ok unmapped=0x%llx", (unsigned long long)u.length);
	}
	problem("unknown ioas call %s", verb);
}

static int device_ref(struct word *w, int n, uint32_t *id)
{
	int kind, name;
	return parse_ref(arg(w, n, "device"), K_DEVICE, id, &kind, &name);
}

/* The entries of an invalidation: cmd= (16 bytes each) or vtd= (24 bytes each). */
static void do_invalidate(int kind, int name, struct word *w, int n)
{
	static uint8_t data[64 * 24];
	struct u_hwpt_invalidate inv = { .size = sizeof inv, .hwpt_id = ids[kind][name], .data_uptr = (uintptr_t)data, .data_type = 1, .entry_len = 16 };
	const char *s, *type, *len;
	uint32_t count = 0, vtd = 0;
	char err[160];
	uint64_t v;

	memset(data, 0, sizeof data);
	while ((s = arg(w, n, "cmd"))) {
		uint64_t cmd[2] = { 0, 0 };
		int op = -1;
		if (vtd || count == 64)
			return problem("%s", "invalidate: at most 64 entries, of one kind");
		if (pack(s, cmd_fields, NULL, cmd, 2, &op, err, sizeof err))
			return problem("invalidate: cmd=\"%s\": %s", s, err);
		memcpy(data + 16 * count++, cmd, 16);
	}
	while ((s = arg(w, n, "vtd"))) {
		char buf[256], *tok, *save;
		uint64_t e[3] = { 0, 0, 0 };
		if ((count && !vtd) || count == 64)
			return problem("%s", "invalidate: at most 64 entries, of one kind");
		vtd = 1;
		snprintf(buf, sizeof buf, "%s", s);
		for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (!strncmp(tok, "addr=", 5) && !parse_u64(tok + 5, &v))
				e[0] = v;
			else if (!strcmp(tok, "npages=all"))
				e[1] = ~0ull;
			else if (!strncmp(tok, "npages=", 7) && !parse_u64(tok + 7, &v))
				e[1] = v;
			else if (!strcmp(tok, "leaf"))
				e[2] |= 1;
			else
				return problem("invalidate: vtd=\"%s\": bad word %s", s, tok);
		}
		memcpy(data + 24 * count++, e, 24);
	}
	if (vtd) {
		inv.data_type = 0;
		inv.entry_len = 24;
	}
	if ((type = arg(w, n, "type"))) {
		if (parse_named(invalidate_types, type, &v))
			return problem("invalidate: bad type=%s", type);
		inv.data_type = (uint32_t)v;
	}
	if ((len = arg(w, n, "entry_len"))) {
		if (parse_u64(len, &v) || v > 24)
			return problem("%s", "invalidate: entry_len= is at most 24 here");
		inv.entry_len = (uint32_t)v;
	}
	if (leftover(w, n))
		return problem("invalidate: unknown argument %s", leftover(w, n));
	inv.entry_num = count;
	if (need_iommufd() < 0)
		return failed(errno);
	if (ioctl(iommufd, IOMMU_HWPT_INVALIDATE, &inv) < 0) {
		int e = errno;
		return result("%s entry_num=%u", errno_name(e), inv.entry_num);
	}
	result("ok entry_num=%u", inv.entry_num);
}

static void do_hwpt(int hn, struct word *w, int n)
{
	const char *verb = w[2].value;

	w[2].used = 1;
	if (!strcmp(verb, "invalidate"))
		return do_invalidate(K_HWPT, hn, w, n);
	if (!strcmp(verb, "alloc")) {
		static uint8_t data[64];
		struct u_hwpt_alloc a = { .size = sizeof a };
		const char *flags = arg(w, n, "flags"), *vste = arg(w, n, "vste"), *vtd_s1 = arg(w, n, "vtd_s1");
		const char *dt = arg(w, n, "data_type"), *dl = arg(w, n, "data_len");
		int kind, name;
		uint64_t v;
		char err[160];

		memset(data, 0, sizeof data);
		if (device_ref(w, n, &a.dev_id) || parse_ref(arg(w, n, "pt"), -1, &a.pt_id, &kind, &name))
			return problem("%s", "hwpt alloc: needs device=<n> and pt=<kind>:<n>");
		if (flags && parse_named(hwpt_flags, flags, &v))
			return problem("hwpt alloc: bad flags=%s", flags);
		a.flags = flags ? (uint32_t)v : 0;
		if (vste && vtd_s1)
			return problem("%s", "hwpt alloc: vste= or vtd_s1=, not both");
		if (vste) {
			uint64_t ste[2] = { 0, 0 };
			if (pack(vste, ste_fields, NULL, ste, 2, NULL, err, sizeof err))
				return problem("hwpt alloc: vste=\"%s\": %s", vste, err);
			memcpy(data, ste, 16);
			a.data_type = 2;
			a.data_len = 16;
		} else if (vtd_s1) {
			char buf[256], *tok, *save;
			uint64_t s1[3] = { 0, 0, 0 };
			snprintf(buf, sizeof buf, "%s", vtd_s1);
			for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
				if (!strncmp(tok, "pgtbl=", 6) && !parse_u64(tok + 6, &v))
					s1[1] = v;
				else if (!strncmp(tok, "addr_width=", 11) && !parse_u64(tok + 11, &v) && v <= 0xffffffffu)
					s1[2] = v;
				else if (!strcmp(tok, "sre"))
					s1[0] |= 1;
				else if (!strcmp(tok, "eafe"))
					s1[0] |= 2;
				else if (!strcmp(tok, "wpe"))
					s1[0] |= 4;
				else
					return problem("hwpt alloc: vtd_s1=\"%s\": bad word %s", vtd_s1, tok);
			}
			memcpy(data, s1, 24);
			a.data_type = 1;
			a.data_len = 24;
		}
		if (dt) {
			if (parse_named(hwpt_data_types, dt, &v))
				return problem("hwpt alloc: bad data_type=%s", dt);
			a.data_type = (uint32_t)v;
		}
		if (dl) {
			if (parse_u64(dl, &v) || v > 0xffffffffu)
				return problem("%s", "hwpt alloc: bad data_len=");
			a.data_len = (uint32_t)v;
		}
		if (leftover(w, n))
			return problem("hwpt alloc: unknown argument %s", leftover(w, n));
		if (a.data_type || a.data_len)
			a.data_uptr = (uintptr_t)data;
		if (need_iommufd() < 0)
			return failed(errno);
		if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &a) < 0)
			return failed(errno);
		ids[K_HWPT][hn] = a.out_hwpt_id;
		hwpt_ioas[hn] = ioas_of(kind, name);
		return ok_id(a.out_hwpt_id);
	}
	problem("unknown hwpt call %s", verb);
}

static void do_viommu(int vn, struct word *w, int n)
{
	const char *verb = w[2].value;

	w[2].used = 1;
	if (!strcmp(verb, "invalidate"))
		return do_invalidate(K_VIOMMU, vn, w, n);
	if (!strcmp(verb, "alloc")) {
		struct u_viommu_alloc a = { .size = sizeof a };
		const char *type = arg(w, n, "type"), *flags = arg(w, n, "flags");
		int kind, name;
		uint64_t v;

		if (device_ref(w, n, &a.dev_id) || parse_ref(arg(w, n, "hwpt"), K_HWPT, &a.hwpt_id, &kind, &name))
			return problem("%s", "viommu alloc: needs device= and hwpt=");
		if (!type || parse_named(viommu_types, type, &v))
			return problem("%s", "viommu alloc: needs type=");
		a.type = (uint32_t)v;
		if (flags) {
			if (parse_named(no_names, flags, &v))
				return problem("%s", "viommu alloc: bad flags=");
			a.flags = (uint32_t)v;
		}
		if (leftover(w, n))
			return problem("viommu alloc: unknown argument %s", leftover(w, n));
		if (need_iommufd() < 0)
			return failed(errno);
		if (ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &a) < 0)
			return failed(errno);
		ids[K_VIOMMU][vn] = a.out_viommu_id;
		viommu_ioas[vn] = ioas_of(kind, name);
		return ok_id(a.out_viommu_id);
	}
	problem("unknown viommu call %s", verb);
}

static void do_vdevice(int vn, struct word *w, int n)
{
	struct u_vdevice_alloc a = { .size = sizeof a };
	int kind, name;

	w[2].used = 1;
	if (strcmp(w[2].value, "alloc"))
		return problem("unknown vdevice call %s", w[2].value);
	if (device_ref(w, n, &a.dev_id) || parse_ref(arg(w, n, "viommu"), K_VIOMMU, &a.viommu_id, &kind, &name) ||
	    parse_u64(arg(w, n, "virt_id"), &a.virt_id))
		return problem("%s", "vdevice alloc: needs viommu=, device= and virt_id=");
	if (leftover(w, n))
		return problem("vdevice alloc: unknown argument %s", leftover(w, n));
	if (need_iommufd() < 0)
		return failed(errno);
	if (ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &a) < 0)
		return failed(errno);
	ids[K_VDEVICE][vn] = a.out_vdevice_id;
	ok_id(a.out_vdevice_id);
}

static const char *event_name(unsigned id)
{
	static char buf[16];

	switch (id) {
	case 0x04: return "C_BAD_STE";
	case 0x06: return "F_STREAM_DISABLED";
	case 0x08: return "C_BAD_SUBSTREAMID";
	case 0x0a: return "C_BAD_CD";
	case 0x10: return "F_TRANSLATION";
	case 0x11: return "F_ADDR_SIZE";
	case 0x12: return "F_ACCESS";
	case 0x13: return "F_PERMISSION";
	default:
		snprintf(buf, sizeof buf, "EVT_0x%02x", id);
		return buf;
	}
}

static void do_veventq(int qn, struct word *w, int n)
{
	const char *verb = w[2].value;

	w[2].used = 1;
	if (!strcmp(verb, "alloc")) {
		struct u_veventq_alloc a = { .size = sizeof a };
		const char *type = arg(w, n, "type"), *flags = arg(w, n, "flags");
		int kind, name;
		uint64_t v, depth;

		if (parse_ref(arg(w, n, "viommu"), K_VIOMMU, &a.viommu_id, &kind, &name) || parse_u64(arg(w, n, "depth"), &depth) || depth > 0xffffffffu)
			return problem("%s", "veventq alloc: needs viommu= and depth=");
		if (!type || parse_named(viommu_types, type, &v))
			return problem("%s", "veventq alloc: needs type=");
		a.type = (uint32_t)v;
		a.veventq_depth = (uint32_t)depth;
		if (flags) {
			if (parse_named(no_names, flags, &v))
				return problem("%s", "veventq alloc: bad flags=");
			a.flags = (uint32_t)v;
		}
		if (leftover(w, n))
			return problem("veventq alloc: unknown argument %s", leftover(w, n));
		if (need_iommufd() < 0)
			return failed(errno);
		if (ioctl(iommufd, IOMMU_VEVENTQ_ALLOC, &a) < 0)
			return failed(errno);
		ids[K_VEVENTQ][qn] = a.out_veventq_id;
		if (veventq_fd[qn] >= 0)
			close(veventq_fd[qn]);
		veventq_fd[qn] = (int)a.out_veventq_fd;
		return ok_id(a.out_veventq_id);
	}
	if (!strcmp(verb, "read")) {
		static uint8_t buf[4096];
		char out[3072];
		size_t used = 0;
		ssize_t len;
		int fd = veventq_fd[qn];

		if (leftover(w, n))
			return problem("veventq read: unknown argument %s", leftover(w, n));
		if (fd == VEVENTQ_FD_CLOSED)
			return failed(EBADF);
		if (fd < 0)
			return problem("%s", "veventq read: this queue has no fd (its alloc failed or never ran)");
		len = read(fd, buf, sizeof buf);
		if (len < 0)
			return failed(errno);
		if (len == 0)
			return result("empty");
		for (size_t off = 0; off + 8 <= (size_t)len && used < sizeof out - 200;) {
			uint32_t flags, sequence;
			uint64_t evt[4];
			unsigned id;
			memcpy(&flags, buf + off, 4);
			memcpy(&sequence, buf + off + 4, 4);
			off += 8;
			if (flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS) {
				used += snprintf(out + used, sizeof out - used, "%sLOST_EVENTS seq=%u", used ? " " : "", sequence);
				continue;
			}
			if (off + 32 > (size_t)len) {
				used += snprintf(out + used, sizeof out - used, "%sTRUNCATED seq=%u", used ? " " : "", sequence);
				break;
			}
			memcpy(evt, buf + off, 32);
			off += 32;
			id = evt[0] & 0xff;
			used += snprintf(out + used, sizeof out - used, "%s%s seq=%u sid=0x%llx", used ? " " : "", event_name(id), sequence,
					 (unsigned long long)(evt[0] >> 32));
			if (evt[0] & (1ull << 11))
				used += snprintf(out + used, sizeof out - used, " ssv=1 ssid=0x%llx", (unsigned long long)((evt[0] >> 12) & 0xfffff));
			if (id >= 0x10 && id <= 0x13) {
				static const char *const classes[] = { "CD", "TT", "IN", "3" };
				used += snprintf(out + used, sizeof out - used, " rnw=%u s2=%u class=%s addr=0x%llx", (unsigned)(evt[1] >> 35) & 1,
						 (unsigned)(evt[1] >> 39) & 1, classes[(evt[1] >> 40) & 3], (unsigned long long)evt[2]);
			}
		}
		return result("%s", out);
	}
	if (!strcmp(verb, "close")) {
		/* close() of the queue's fd: the fd's reference on the queue goes (eventq.c iommufd_eventq_fops_release). */
		int fd = veventq_fd[qn];

		if (leftover(w, n))
			return problem("veventq close: unknown argument %s", leftover(w, n));
		if (fd == VEVENTQ_FD_CLOSED)
			return failed(EBADF);
		if (fd < 0)
			return problem("%s", "veventq close: this queue has no fd (its alloc failed or never ran)");
		veventq_fd[qn] = VEVENTQ_FD_CLOSED;
		if (close(fd) < 0)
			return failed(errno);
		return result("ok");
	}
	problem("unknown veventq call %s", verb);
}

static void do_destroy(struct word *w, int n)
{
	struct u_destroy d = { .size = sizeof d };
	const char *raw = arg(w, n, "id");
	uint64_t v;
	int kind, name;

	if (raw) {
		if (parse_u64(raw, &v) || v > 0xffffffffu)
			return problem("%s", "destroy id= is a number");
		d.id = (uint32_t)v;
	} else {
		char ref[64];
		if (n < 3 || w[1].key || w[2].key)
			return problem("%s", "destroy <kind> <n> or destroy id=<number>");
		w[1].used = w[2].used = 1;
		if (!strcmp(w[1].value, "device"))
			return problem("%s", "destroy device is not a call: device N close");
		snprintf(ref, sizeof ref, "%s:%s", w[1].value, w[2].value);
		if (parse_ref(ref, -1, &d.id, &kind, &name))
			return problem("destroy: unknown object %s %s", w[1].value, w[2].value);
	}
	if (leftover(w, n))
		return problem("destroy: unknown argument %s", leftover(w, n));
	if (need_iommufd() < 0)
		return failed(errno);
	if (ioctl(iommufd, IOMMU_DESTROY, &d) < 0)
		return failed(errno);
	result("ok");
}

void iommufd_command(char *line)
{
	struct word w[MAX_WORDS];
	int n, num;

	if (!strncmp(line, "require ", 8)) {
		const char *what = line + 8;
		if (access(what, F_OK) == 0)
			return result("ok");
		skipping = 1;
		return problem("not run: this kernel has no %s", what);
	}
	if (skipping)
		return problem("%s", "not run: this kernel has no /dev/iommu");
	n = split_words(line + 4, w, MAX_WORDS);
	if (n < 0)
		return problem("%s", "unbalanced quotes or too many words");
	if (n == 0)
		return problem("%s", "an empty call");
	w[0].used = 1;
	if (!strcmp(w[0].value, "guest") && n >= 2)
		return do_guest(w, n);
	if (!strcmp(w[0].value, "destroy"))
		return do_destroy(w, n);
	if (n < 3 || w[1].key || parse_number(w[1].value, &num))
		return problem("\"%s\": <kind> <n> <call> ...", w[0].value);
	w[1].used = 1;
	if (!strcmp(w[0].value, "device"))
		return do_device(num, w, n);
	if (!strcmp(w[0].value, "ioas"))
		return do_ioas(num, w, n);
	if (!strcmp(w[0].value, "hwpt"))
		return do_hwpt(num, w, n);
	if (!strcmp(w[0].value, "viommu"))
		return do_viommu(num, w, n);
	if (!strcmp(w[0].value, "vdevice"))
		return do_vdevice(num, w, n);
	if (!strcmp(w[0].value, "veventq"))
		return do_veventq(num, w, n);
	problem("unknown call %s", w[0].value);
}
