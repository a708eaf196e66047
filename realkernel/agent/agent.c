/*
 * smmu-nesting-tck guest agent: runs VFIO calls on the guest's real kernel and prints what the
 * kernel answered. It reads one command per line (stdin, or the file named as its argument) and
 * prints, for every command, one reply line:
 *
 *   @@ <seq> = <ret> <ERRNO|OK> [key=value ...]
 *
 * <seq> counts the commands from 1; <ret> is the syscall's return value (-1 on failure) and the
 * second word the errno's name (OK on success). Anything the agent itself cannot do (bad command,
 * mmap failing, no edu device) is "@@ <seq> ! <reason>". Lines not starting with "@@" (kernel
 * messages on the same console) are to be ignored by whoever reads the output.
 *
 * Commands (numbers in hex 0x.. or decimal):
 *   session NAME              close everything (container, groups, devices, buffers); a new transcript
 *   alias G DEVICE            group G in later commands is DEVICE's (e.g. 0000:00:01.0) IOMMU group
 *                             in this guest                  -> group=N
 *   open                      open("/dev/vfio/vfio")
 *   api_version               VFIO_GET_API_VERSION
 *   check_extension N         VFIO_CHECK_EXTENSION
 *   group G status            VFIO_GROUP_GET_STATUS          -> flags=0x..
 *   group G set_container     VFIO_GROUP_SET_CONTAINER
 *   group G unset_container   VFIO_GROUP_UNSET_CONTAINER
 *                             (the first command naming G opens /dev/vfio/G; a failed open is its reply)
 *   set_iommu N               VFIO_SET_IOMMU
 *   get_info                  VFIO_IOMMU_GET_INFO            -> flags= pgsizes= [dma_avail=] [ranges=a-b,..]
 *   map IOVA SIZE FLAGS KIND  VFIO_IOMMU_MAP_DMA; KIND: buffer (anonymous mmap, every page touched),
 *                             misaligned (buffer + 1), unmapped (mmap, then munmap)
 *   unmap IOVA SIZE FLAGS     VFIO_IOMMU_UNMAP_DMA           -> unmapped=0x..
 *   dma read|write IOVA SIZE G
 *                             the first device of group G (QEMU's edu) does DMA at IOVA through the
 *                             IOMMU                          -> fault=N landed=yes|no|unknown
 *                             (G "-": the one group opened so far)
 *
 * A DMA's verdict comes from the IOMMU itself: the number of fault reports the guest kernel
 * logged (arm-smmu-v3 event queue, VT-d fault records) while it ran. For a write into a buffer
 * this agent mapped, it also says whether the bytes landed.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>
#include "agent.h"

#define MAX_GROUPS 16
#define MAX_MAPPINGS 256

struct group {
	int id;
	int fd;
};

struct mapping {
	uint64_t iova, size;
	uint8_t *data;             /* the vaddr given to MAP_DMA: what the IOVA reaches */
	uint8_t *base;             /* the mmap, for munmap at session end */
	size_t length;
};

/* Transcript group numbers -> this guest's group numbers and devices ("alias"). */
static struct { int name, real; char device[32]; } aliases[MAX_GROUPS];
static int naliases;

static int container = -1;
static struct group groups[MAX_GROUPS];
static int ngroups;
static struct mapping mappings[MAX_MAPPINGS];
static int nmappings;
long seq;

const char *errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ENXIO: return "ENXIO";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case EOVERFLOW: return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case E2BIG: return "E2BIG";
	case EAGAIN: return "EAGAIN";
	case EIO: return "EIO";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EMFILE: return "EMFILE";
	case EPIPE: return "EPIPE";
	default: {
		static char buf[16];
		snprintf(buf, sizeof buf, "E%d", e);
		return buf;
	}
	}
}

/* "= <ret> <ERRNO|OK>" followed by optional details. */
static void reply(long ret, int err, const char *details)
{
	printf("@@ %ld = %ld %s%s%s\n", seq, ret, ret < 0 ? errno_name(err) : "OK",
	       details && *details ? " " : "", details ? details : "");
	fflush(stdout);
}

void agent_error(const char *fmt, const char *arg)
{
	printf("@@ %ld ! ", seq);
	printf(fmt, arg);
	printf("\n");
	fflush(stdout);
}

int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s)
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

uint64_t round_up(uint64_t n, uint64_t to)
{
	return (n + to - 1) / to * to;
}

/* ------------------------------------------------------------------------------------------ */
/* Groups and the edu device */

static struct group *find_group(int id)
{
	for (int i = 0; i < ngroups; i++)
		if (groups[i].id == id)
			return &groups[i];
	return NULL;
}

static int real_group(int name)
{
	for (int i = 0; i < naliases; i++)
		if (aliases[i].name == name)
			return aliases[i].real;
	return name;
}

const char *alias_device(int name)
{
	for (int i = 0; i < naliases; i++)
		if (aliases[i].name == name)
			return aliases[i].device;
	return NULL;
}

/* alias G DEVICE: group G in later commands means DEVICE's IOMMU group in this guest. */
static void do_alias(int name, const char *device)
{
	char path[128], target[256], details[32];
	ssize_t len;
	const char *slash;

	snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/iommu_group", device);
	len = readlink(path, target, sizeof target - 1);
	if (len < 0 || naliases == MAX_GROUPS)
		return agent_error("%s has no IOMMU group", device);
	target[len] = 0;
	slash = strrchr(target, '/');
	aliases[naliases].name = name;
	aliases[naliases].real = atoi(slash ? slash + 1 : target);
	snprintf(aliases[naliases].device, sizeof aliases[naliases].device, "%s", device);
	snprintf(details, sizeof details, "group=%d", aliases[naliases].real);
	naliases++;
	reply(0, 0, details);
}

/* The group, opened on first use; NULL with errno set when open() fails. */
static struct group *open_group(int name)
{
	int id = real_group(name);
	struct group *g = find_group(id);
	char path[64];
	int fd;

	if (g)
		return g;
	if (ngroups == MAX_GROUPS) {
		errno = EMFILE;
		return NULL;
	}
	snprintf(path, sizeof path, "/dev/vfio/%d", id);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return NULL;
	g = &groups[ngroups++];
	memset(g, 0, sizeof *g);
	g->id = id;
	g->fd = fd;
	return g;
}

void close_device(struct device *dev)
{
	if (dev->bar0)
		munmap((void *)dev->bar0, dev->bar_size);
	if (dev->fd >= 0)
		close(dev->fd);
	dev->bar0 = NULL;
	dev->fd = -1;
}

/*
 * Opens the group's first device (sysfs order), maps BAR0 and enables bus mastering. The device
 * is closed again after each DMA: an open device fd is a user of the container, and would make
 * VFIO_GROUP_UNSET_CONTAINER fail with EBUSY where the transcript's VMM has no device open.
 */
static const char *open_device(struct group *g, struct device *dev)
{
	char dir[64], name[256] = "";
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof dir, "/sys/kernel/iommu_groups/%d/devices", g->id);
	dp = opendir(dir);
	if (!dp)
		return "no sysfs entry for the group";
	while ((d = readdir(dp)))
		if (d->d_name[0] != '.' && (!name[0] || strcmp(d->d_name, name) < 0))
			snprintf(name, sizeof name, "%s", d->d_name);
	closedir(dp);
	if (!name[0])
		return "the group has no device";

	dev->fd = ioctl(g->fd, VFIO_GROUP_GET_DEVICE_FD, name);
	if (dev->fd < 0)
		return "VFIO_GROUP_GET_DEVICE_FD failed";
	return edu_setup(dev);
}

/* Maps the open device's BAR0, checks it is edu and enables memory space and bus mastering. */
const char *edu_setup(struct device *dev)
{
	struct vfio_region_info bar = { .argsz = sizeof bar, .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_region_info cfg = { .argsz = sizeof cfg, .index = VFIO_PCI_CONFIG_REGION_INDEX };
	uint16_t command;
	void *p;

	if (ioctl(dev->fd, VFIO_DEVICE_GET_REGION_INFO, &bar) < 0 || bar.size < 0x100 ||
	    ioctl(dev->fd, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0)
		return "VFIO_DEVICE_GET_REGION_INFO failed";
	p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->fd, bar.offset);
	if (p == MAP_FAILED)
		return "mmap of BAR0 failed";
	dev->bar0 = p;
	dev->bar_size = bar.size;
	if (*(volatile uint32_t *)(dev->bar0 + EDU_IDENT) >> 16 != 0x0100 ||
	    (*(volatile uint32_t *)(dev->bar0 + EDU_IDENT) & 0xff) != 0xed)
		return "the device is not QEMU's edu";
	if (pread(dev->fd, &command, 2, cfg.offset + 4) != 2)
		return "reading PCI_COMMAND failed";
	command |= 0x6; /* memory space, bus master */
	if (pwrite(dev->fd, &command, 2, cfg.offset + 4) != 2)
		return "writing PCI_COMMAND failed";
	return NULL;
}

static void write64(volatile uint8_t *bar, unsigned off, uint64_t v)
{
	*(volatile uint64_t *)(bar + off) = v;
}

static uint64_t read64(volatile uint8_t *bar, unsigned off)
{
	return *(volatile uint64_t *)(bar + off);
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Interrupts of the IOMMU's fault reporting, summed over CPUs from /proc/interrupts: the
 * SMMUv3's event queue ("arm-smmu-v3-evtq") or VT-d's fault event ("dmar0"). Unlike the fault
 * reports in the kernel log these are not rate-limited. -1: no such interrupt in this guest.
 */
static long fault_irqs(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	long total = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char lower[1024];
		size_t i;
		for (i = 0; line[i] && i < sizeof lower - 1; i++)
			lower[i] = (char)tolower((unsigned char)line[i]);
		lower[i] = 0;
		if (!strstr(lower, "evtq") && !strstr(lower, "dmar"))
			continue;
		char *p = strchr(line, ':');
		if (!p)
			continue;
		if (total < 0)
			total = 0;
		for (p++;;) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			total += v;
			p = end;
		}
	}
	fclose(f);
	return total;
}

/*
 * Both drivers log at most DEFAULT_RATELIMIT_BURST (10) fault reports per
 * DEFAULT_RATELIMIT_INTERVAL (5 s), the window starting at the first report, and edu's faulting
 * DMA of 64 bytes raises one event per 4-byte access. When the guest has no fault interrupt to
 * count, the agent waits the window out before a DMA once a window's reports reach
 * RATELIMIT_SAFE_REPORTS, so that every DMA's faults are logged.
 */
#define RATELIMIT_WINDOW_MS 5500
#define RATELIMIT_SAFE_REPORTS 6
static long fault_window_start = -1;
static int fault_window_reports;

static void wait_for_fault_budget(void)
{
	long now = now_ms();

	if (fault_window_start >= 0 && now - fault_window_start >= RATELIMIT_WINDOW_MS)
		fault_window_start = -1;
	if (fault_window_start >= 0 && fault_window_reports >= RATELIMIT_SAFE_REPORTS) {
		sleep_ms(RATELIMIT_WINDOW_MS - (now - fault_window_start));
		fault_window_start = -1;
	}
	if (fault_window_start < 0)
		fault_window_reports = 0;
}

static void count_fault_reports(long dma_started, int reports)
{
	if (reports <= 0)
		return;
	if (fault_window_start < 0)
		fault_window_start = dma_started;
	fault_window_reports += reports;
}

/* An IOMMU fault report in the kernel log (arm-smmu-v3 event queue, Intel DMAR fault records). */
static int is_fault_report(const char *line)
{
	return (strstr(line, "arm-smmu-v3") && strstr(line, "event 0x")) ||
	       (strstr(line, "DMAR") && (strstr(line, "fault") || strstr(line, "Fault")));
}

/* Counts fault reports in /dev/kmsg records newer than the fd's position. */
static int count_faults(int kmsg)
{
	char rec[2048];
	int n = 0;
	ssize_t len;

	while ((len = read(kmsg, rec, sizeof rec - 1)) != 0) {
		if (len < 0) {
			if (errno == EPIPE) /* records overwritten: keep reading */
				continue;
			break; /* EAGAIN: nothing more */
		}
		rec[len] = 0;
		if (is_fault_report(rec))
			n++;
	}
	return n;
}

static struct mapping *buffer_at(uint64_t iova, uint64_t size)
{
	for (int i = nmappings - 1; i >= 0; i--) {
		struct mapping *m = &mappings[i];
		if (iova >= m->iova && iova + size <= m->iova + m->size)
			return m;
	}
	return NULL;
}

/*
 * One DMA by edu (mapped by edu_setup) at `iova`: to_ram 1 moves its buffer to memory (the
 * device writes), 0 memory to its buffer (the device reads). Returns the number of IOMMU fault
 * reports and event interrupts seen while it ran (-1: the kernel log could not be read); sets
 * *problem when the DMA did not finish.
 */
int edu_dma(struct device *dev, int to_ram, uint64_t iova, uint64_t size, const char **problem)
{
	volatile uint8_t *bar = dev->bar0;
	long started, irqs_before, irqs_after;
	int kmsg, faults, waited;

	*problem = NULL;
	irqs_before = fault_irqs();
	if (irqs_before < 0)
		wait_for_fault_budget();
	started = now_ms();
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);

	write64(bar, EDU_DMA_SRC, to_ram ? EDU_BUFFER : iova);
	write64(bar, EDU_DMA_DST, to_ram ? iova : EDU_BUFFER);
	write64(bar, EDU_DMA_COUNT, size);
	write64(bar, EDU_DMA_CMD, EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0));
	for (waited = 0; (read64(bar, EDU_DMA_CMD) & EDU_CMD_RUN) && waited < 10000; waited += 5)
		sleep_ms(5);
	if (read64(bar, EDU_DMA_CMD) & EDU_CMD_RUN) {
		if (kmsg >= 0)
			close(kmsg);
		*problem = "edu's DMA did not finish within 10 s";
		return -1;
	}
	sleep_ms(200); /* let the IOMMU's fault interrupt thread log what it saw */
	faults = kmsg >= 0 ? count_faults(kmsg) : -1;
	irqs_after = fault_irqs();
	if (irqs_before >= 0 && irqs_after > irqs_before && faults < (int)(irqs_after - irqs_before))
		faults = (int)(irqs_after - irqs_before); /* reports suppressed by the rate limit, or events not logged */
	if (kmsg >= 0)
		close(kmsg);
	count_fault_reports(started, faults);
	return faults;
}

static void do_dma(int to_ram, uint64_t iova, uint64_t size, int group_id, int is_real)
{
	static unsigned pattern = 0x11;
	struct group *g = find_group(is_real ? group_id : real_group(group_id));
	struct device dev = { .fd = -1 };
	struct mapping *m;
	const char *problem;
	char details[96];
	int faults;
	uint8_t fill;

	if (!g)
		return agent_error("%s", "that group is not open (no group line named it yet)");
	if (size == 0 || size > EDU_BUFFER_SIZE)
		return agent_error("%s", "edu moves 1 to 4096 bytes");
	if ((problem = open_device(g, &dev))) {
		close_device(&dev);
		return agent_error("%s", problem);
	}

	/* A write should overwrite a fill edu's buffer does not hold: change it every time. */
	pattern = (pattern * 37 + 11) & 0xff;
	fill = (uint8_t)pattern;
	m = to_ram ? buffer_at(iova, size) : NULL;
	if (m)
		memset(m->data + (iova - m->iova), fill, size);

	faults = edu_dma(&dev, to_ram, iova, size, &problem);
	close_device(&dev);
	if (problem)
		return agent_error("%s", problem);

	if (!m) {
		snprintf(details, sizeof details, "fault=%d landed=unknown", faults);
	} else {
		int changed = 0;
		for (uint64_t i = 0; i < size; i++)
			changed |= m->data[iova - m->iova + i] != fill;
		snprintf(details, sizeof details, "fault=%d landed=%s", faults, changed ? "yes" : "no");
	}
	reply(0, 0, details);
}

/* ------------------------------------------------------------------------------------------ */
/* Container calls */

static void do_get_info(void)
{
	struct vfio_iommu_type1_info *info = calloc(1, sizeof *info);
	char details[4096];
	size_t used;
	long ret;

	info->argsz = sizeof *info;
	ret = ioctl(container, VFIO_IOMMU_GET_INFO, info);
	if (ret == 0 && info->argsz > sizeof *info) {
		uint32_t argsz = info->argsz;
		info = realloc(info, argsz);
		memset(info, 0, argsz);
		info->argsz = argsz;
		ret = ioctl(container, VFIO_IOMMU_GET_INFO, info);
	}
	if (ret < 0) {
		int e = errno;
		free(info);
		return reply(ret, e, NULL);
	}
	used = snprintf(details, sizeof details, "flags=0x%x pgsizes=0x%llx", info->flags,
			(unsigned long long)info->iova_pgsizes);
	for (uint32_t off = (info->flags & VFIO_IOMMU_INFO_CAPS) ? info->cap_offset : 0; off;) {
		struct vfio_info_cap_header *h = (void *)((char *)info + off);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			struct vfio_iommu_type1_info_dma_avail *c = (void *)h;
			used += snprintf(details + used, sizeof details - used, " dma_avail=%u", c->avail);
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *c = (void *)h;
			used += snprintf(details + used, sizeof details - used, " ranges=");
			for (uint32_t i = 0; i < c->nr_iovas && used < sizeof details - 48; i++)
				used += snprintf(details + used, sizeof details - used, "%s0x%llx-0x%llx", i ? "," : "",
						 (unsigned long long)c->iova_ranges[i].start,
						 (unsigned long long)c->iova_ranges[i].end);
		}
		off = h->next;
	}
	free(info);
	reply(0, 0, details);
}

static void do_map(uint64_t iova, uint64_t size, uint32_t flags, const char *kind)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof map, .flags = flags, .iova = iova, .size = size };
	size_t length = round_up(size ? size : 1, page_size()) + page_size();
	uint8_t *buf;
	long ret;
	int e;

	if (strcmp(kind, "buffer") && strcmp(kind, "misaligned") && strcmp(kind, "unmapped"))
		return agent_error("unknown vaddr kind %s", kind);
	if (nmappings == MAX_MAPPINGS)
		return agent_error("%s", "too many mappings in one session");
	buf = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return agent_error("mmap of the %s buffer failed", kind);
	memset(buf, 0, length); /* touch every page */
	map.vaddr = (uintptr_t)buf + (strcmp(kind, "misaligned") ? 0 : 1);
	if (!strcmp(kind, "unmapped"))
		munmap(buf, length);

	ret = ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
	e = errno;
	if (!strcmp(kind, "unmapped")) {
		/* nothing to keep */
	} else if (ret == 0) {
		mappings[nmappings++] = (struct mapping){ iova, size, (uint8_t *)(uintptr_t)map.vaddr, buf, length };
	} else {
		munmap(buf, length);
	}
	reply(ret, e, NULL);
}

static void do_unmap(uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof unmap, .flags = flags, .iova = iova, .size = size };
	char details[48];
	long ret = ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	int e = errno;

	if (ret < 0)
		return reply(ret, e, NULL);
	snprintf(details, sizeof details, "unmapped=0x%llx", (unsigned long long)unmap.size);
	reply(ret, 0, details);
}

static void end_session(void)
{
	iommufd_end_session();
	for (int i = 0; i < ngroups; i++) {
		close(groups[i].fd);
	}
	ngroups = 0;
	if (container >= 0)
		close(container);
	container = -1;
	for (int i = 0; i < nmappings; i++)
		munmap(mappings[i].base, mappings[i].length);
	nmappings = 0;
}

/* ------------------------------------------------------------------------------------------ */

static void run(char *line)
{
	char *w[8] = { 0 };
	int n = 0;
	uint64_t a, b, c;
	long ret;

	if (!strncmp(line, "ifd ", 4) || !strncmp(line, "require ", 8)) {
		seq++;
		line[strcspn(line, "\r\n")] = 0;
		return iommufd_command(line);
	}

	for (char *tok = strtok(line, " \t\r\n"); tok && n < 8; tok = strtok(NULL, " \t\r\n"))
		w[n++] = tok;
	if (n == 0)
		return;
	seq++;

	if (!strcmp(w[0], "session")) {
		end_session();
		return reply(0, 0, NULL);
	}
	if (!strcmp(w[0], "alias") && !parse_u64(w[1], &a) && w[2])
		return do_alias((int)a, w[2]);
	if (!strcmp(w[0], "open")) {
		if (container >= 0)
			close(container);
		container = open("/dev/vfio/vfio", O_RDWR);
		return reply(container < 0 ? -1 : 0, errno, NULL);
	}
	if (!strcmp(w[0], "api_version")) {
		ret = ioctl(container, VFIO_GET_API_VERSION);
		return reply(ret, errno, NULL);
	}
	if (!strcmp(w[0], "check_extension") && !parse_u64(w[1], &a)) {
		ret = ioctl(container, VFIO_CHECK_EXTENSION, (unsigned long)a);
		return reply(ret, errno, NULL);
	}
	if (!strcmp(w[0], "set_iommu") && !parse_u64(w[1], &a)) {
		ret = ioctl(container, VFIO_SET_IOMMU, (unsigned long)a);
		return reply(ret, errno, NULL);
	}
	if (!strcmp(w[0], "get_info"))
		return do_get_info();
	if (!strcmp(w[0], "group") && !parse_u64(w[1], &a) && w[2]) {
		struct group *g = open_group((int)a);
		if (!g)
			return reply(-1, errno, NULL);
		if (!strcmp(w[2], "status")) {
			struct vfio_group_status st = { .argsz = sizeof st };
			char details[32];
			ret = ioctl(g->fd, VFIO_GROUP_GET_STATUS, &st);
			snprintf(details, sizeof details, "flags=0x%x", st.flags);
			return reply(ret, errno, ret < 0 ? NULL : details);
		}
		if (!strcmp(w[2], "set_container")) {
			ret = ioctl(g->fd, VFIO_GROUP_SET_CONTAINER, &container);
			return reply(ret, errno, NULL);
		}
		if (!strcmp(w[2], "unset_container")) {
			ret = ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER);
			return reply(ret, errno, NULL);
		}
	}
	if (!strcmp(w[0], "map") && !parse_u64(w[1], &a) && !parse_u64(w[2], &b) && !parse_u64(w[3], &c) && w[4])
		return do_map(a, b, (uint32_t)c, w[4]);
	if (!strcmp(w[0], "unmap") && !parse_u64(w[1], &a) && !parse_u64(w[2], &b) && !parse_u64(w[3], &c))
		return do_unmap(a, b, (uint32_t)c);
	if (!strcmp(w[0], "dma") && w[1] && (!strcmp(w[1], "read") || !strcmp(w[1], "write")) &&
	    !parse_u64(w[2], &a) && !parse_u64(w[3], &b) && w[4]) {
		if (!strcmp(w[4], "-")) /* the one group open */
			return ngroups == 1 ? do_dma(!strcmp(w[1], "write"), a, b, groups[0].id, 1)
					    : agent_error("%s", "no single group is open: name it");
		if (!parse_u64(w[4], &c))
			return do_dma(!strcmp(w[1], "write"), a, b, (int)c, 0);
	}
	agent_error("cannot run \"%s ...\"", w[0]);
}

int main(int argc, char **argv)
{
	FILE *in = stdin;
	char line[4096];

	if (argc > 1 && !(in = fopen(argv[1], "r"))) {
		perror(argv[1]);
		return 1;
	}
	printf("@@ agent ready\n");
	fflush(stdout);
	while (fgets(line, sizeof line, in))
		run(line);
	end_session();
	printf("@@ agent done\n");
	fflush(stdout);
	return 0;
}
