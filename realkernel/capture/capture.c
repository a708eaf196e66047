/*
 * smmu-nesting-tck capture library: LD_PRELOAD it into a VMM and it writes down every VFIO and
 * iommufd call the VMM makes, with its decoded arguments and what the kernel answered:
 *
 *   SMMU_TCK_CAPTURE=/tmp/capture.log LD_PRELOAD=/path/capture.so qemu-system-aarch64 ...
 *
 * It wraps open/openat (and their fortified and 64-bit names), close, ioctl, mmap, pread, pwrite,
 * read and eventfd, and liburing's io_uring_queue_init, io_uring_submit and io_uring_submit_and_wait
 * (the polls an event loop keeps on a followed descriptor: "io_uring" below). A file descriptor is followed from the moment it is made: by the path opened
 * (/dev/vfio/vfio a container, /dev/vfio/N a group, /dev/vfio/devices/vfioN a VFIO cdev device,
 * /dev/iommu an iommufd, /dev/kvm KVM; the path /proc/self/fd names, so /dev/char/MAJ:MIN links
 * resolve) or by the call that returns it (VFIO_GROUP_GET_DEVICE_FD a device, KVM_CREATE_VM,
 * KVM_CREATE_DEVICE, IOMMU_VEVENTQ_ALLOC, IOMMU_FAULT_QUEUE_ALLOC, eventfd). Only calls on such
 * descriptors are written; each ioctl is decoded by the kind of its descriptor (VFIO uses the same
 * number for VFIO_IOMMU_GET_INFO on a container and VFIO_DEVICE_GET_PCI_HOT_RESET_INFO on a device).
 * A capability chain is walked only when the argsz the caller passed let the kernel copy it.
 *
 * The log is text, one call a line (realkernel/capture/README.md has the format):
 *
 *   <pid> <seq> <call> <kind>:<fd> <NAME> <arguments> = <ret> [<ERRNO>] <results>
 *
 * It is written with write(2) straight to a descriptor moved above 1000 (F_DUPFD_CLOEXEC), so the
 * VMM's own descriptor numbers are what they would be without the library. Lines are written whole
 * (one write each, O_APPEND), under a lock: the VMM's threads do not interleave them.
 *
 * Numbers and struct layouts are the uapi's (include/uapi/linux/vfio.h, iommufd.h, kvm.h of Linux
 * 7.1), written here so that the library builds against any kernel headers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* uapi numbers: VFIO and iommufd ioctls are _IO(';', nr) (no size, no direction). */

#define SEMI(nr) ((unsigned long)((';' << 8) | (nr)))
#define VFIO(n) SEMI(100 + (n))

/* vfio.h: container, group, device */
#define VFIO_GET_API_VERSION VFIO(0)
#define VFIO_CHECK_EXTENSION VFIO(1)
#define VFIO_SET_IOMMU VFIO(2)
#define VFIO_GROUP_GET_STATUS VFIO(3)
#define VFIO_GROUP_SET_CONTAINER VFIO(4)
#define VFIO_GROUP_UNSET_CONTAINER VFIO(5)
#define VFIO_GROUP_GET_DEVICE_FD VFIO(6)
#define VFIO_DEVICE_GET_INFO VFIO(7)
#define VFIO_DEVICE_GET_REGION_INFO VFIO(8)
#define VFIO_DEVICE_GET_IRQ_INFO VFIO(9)
#define VFIO_DEVICE_SET_IRQS VFIO(10)
#define VFIO_DEVICE_RESET VFIO(11)
#define VFIO_DEVICE_GET_PCI_HOT_RESET_INFO VFIO(12) /* on a device */
#define VFIO_IOMMU_GET_INFO VFIO(12)                /* on a container */
#define VFIO_DEVICE_PCI_HOT_RESET VFIO(13)
#define VFIO_IOMMU_MAP_DMA VFIO(13)
#define VFIO_DEVICE_QUERY_GFX_PLANE VFIO(14)
#define VFIO_IOMMU_UNMAP_DMA VFIO(14)
#define VFIO_DEVICE_GET_GFX_DMABUF VFIO(15)
#define VFIO_IOMMU_ENABLE VFIO(15)
#define VFIO_DEVICE_IOEVENTFD VFIO(16)
#define VFIO_IOMMU_DISABLE VFIO(16)
#define VFIO_DEVICE_FEATURE VFIO(17)
#define VFIO_IOMMU_DIRTY_PAGES VFIO(17)
#define VFIO_DEVICE_BIND_IOMMUFD VFIO(18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT VFIO(19)
#define VFIO_DEVICE_DETACH_IOMMUFD_PT VFIO(20)

/* iommufd.h */
#define IOMMU_DESTROY SEMI(0x80)
#define IOMMU_IOAS_ALLOC SEMI(0x81)
#define IOMMU_IOAS_ALLOW_IOVAS SEMI(0x82)
#define IOMMU_IOAS_COPY SEMI(0x83)
#define IOMMU_IOAS_IOVA_RANGES SEMI(0x84)
#define IOMMU_IOAS_MAP SEMI(0x85)
#define IOMMU_IOAS_UNMAP SEMI(0x86)
#define IOMMU_OPTION SEMI(0x87)
#define IOMMU_VFIO_IOAS SEMI(0x88)
#define IOMMU_HWPT_ALLOC SEMI(0x89)
#define IOMMU_GET_HW_INFO SEMI(0x8a)
#define IOMMU_HWPT_SET_DIRTY_TRACKING SEMI(0x8b)
#define IOMMU_HWPT_GET_DIRTY_BITMAP SEMI(0x8c)
#define IOMMU_HWPT_INVALIDATE SEMI(0x8d)
#define IOMMU_FAULT_QUEUE_ALLOC SEMI(0x8e)
#define IOMMU_IOAS_MAP_FILE SEMI(0x8f)
#define IOMMU_VIOMMU_ALLOC SEMI(0x90)
#define IOMMU_VDEVICE_ALLOC SEMI(0x91)
#define IOMMU_IOAS_CHANGE_PROCESS SEMI(0x92)
#define IOMMU_VEVENTQ_ALLOC SEMI(0x93)
#define IOMMU_HW_QUEUE_ALLOC SEMI(0x94)

/* kvm.h: the calls that tie VFIO to KVM (the rest of KVM is not written down) */
#define KVM_CREATE_VM 0xae01UL
#define KVM_IRQFD 0x4020ae76UL            /* _IOW(KVMIO, 0x76, struct kvm_irqfd) */
#define KVM_CREATE_DEVICE 0xc00caee0UL    /* _IOWR(KVMIO, 0xe0, struct kvm_create_device) */
#define KVM_SET_DEVICE_ATTR 0x4018aee1UL  /* _IOW(KVMIO, 0xe1, struct kvm_device_attr) */
#define KVM_HAS_DEVICE_ATTR 0x4018aee3UL
#define KVM_DEV_TYPE_VFIO 4

#define VFIO_IOMMU_INFO_CAPS (1u << 1)
#define VFIO_DEVICE_FLAGS_CAPS (1u << 7)
#define VFIO_REGION_INFO_FLAG_CAPS (1u << 3)
#define VFIO_IRQ_SET_DATA_NONE (1u << 0)
#define VFIO_IRQ_SET_DATA_BOOL (1u << 1)
#define VFIO_IRQ_SET_DATA_EVENTFD (1u << 2)
#define VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (1u << 0)
#define VFIO_DEVICE_FEATURE_MASK 0xffffu
#define VFIO_DEVICE_FEATURE_GET (1u << 16)
#define VFIO_DEVICE_FEATURE_SET (1u << 17)
#define VFIO_DEVICE_FEATURE_PROBE (1u << 18)

/* ---------------------------------------------------------------------------------------- */
/* Descriptors */

enum kind { K_NONE, K_CONTAINER, K_GROUP, K_DEVICE, K_IOMMUFD, K_KVM, K_KVM_VM, K_KVM_VFIO, K_EVENTFD, K_VEVENTQ, K_FAULTQ };
static const char *const kind_names[] = { "none", "container", "group", "device", "iommufd", "kvm", "kvm-vm", "kvm-vfio", "eventfd", "veventq", "faultq" };

#define MAX_FD 65536
static unsigned char kinds[MAX_FD];

static enum kind kind_of(int fd)
{
	return fd >= 0 && fd < MAX_FD ? (enum kind)kinds[fd] : K_NONE;
}

static void set_kind(int fd, enum kind k)
{
	if (fd >= 0 && fd < MAX_FD)
		kinds[fd] = (unsigned char)k;
}

/* ---------------------------------------------------------------------------------------- */
/* The real functions */

#define REAL(name, type)                                                                   \
	static type real_##name(void)                                                          \
	{                                                                                      \
		static type fn;                                                                    \
		if (!fn)                                                                           \
			fn = (type)dlsym(RTLD_NEXT, #name);                                            \
		return fn;                                                                         \
	}

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*close_fn)(int);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef int (*eventfd_fn)(unsigned int, int);

REAL(open, open_fn)
REAL(open64, open_fn)
REAL(openat, openat_fn)
REAL(openat64, openat_fn)
REAL(__open_2, open2_fn)
REAL(__open64_2, open2_fn)
REAL(__openat_2, openat2_fn)
REAL(__openat64_2, openat2_fn)
REAL(close, close_fn)
REAL(ioctl, ioctl_fn)
REAL(mmap, mmap_fn)
REAL(mmap64, mmap_fn)
REAL(pread, pread_fn)
REAL(pread64, pread_fn)
REAL(pwrite, pwrite_fn)
REAL(pwrite64, pwrite_fn)
REAL(read, read_fn)
REAL(eventfd, eventfd_fn)

/* ---------------------------------------------------------------------------------------- */
/* The log */

#define LOG_FD_MIN 1000
#define LINE_MAX_BYTES 40000
#define DATA_MAX 4096 /* bytes of data (config space, a feature's payload) written as hex */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -2; /* -2: not opened yet; -1: no log (SMMU_TCK_CAPTURE unset or unusable) */
static long seq;

struct line {
	char text[LINE_MAX_BYTES];
	size_t len;
};

static void put(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof l->text - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	l->len += (size_t)n;
	if (l->len > sizeof l->text - 1)
		l->len = sizeof l->text - 1;
}

static void put_hex(struct line *l, const char *key, const void *data, size_t len)
{
	const unsigned char *p = data;
	static const char digits[] = "0123456789abcdef";

	put(l, " %s=", key);
	if (len > DATA_MAX)
		len = DATA_MAX;
	for (size_t i = 0; i < len && l->len + 3 < sizeof l->text; i++) {
		l->text[l->len++] = digits[p[i] >> 4];
		l->text[l->len++] = digits[p[i] & 15];
	}
	l->text[l->len] = 0;
}

static const char *errno_name(int e)
{
	static const struct { int e; const char *name; } names[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EINTR, "EINTR" }, { EIO, "EIO" },
		{ ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" },
		{ EINVAL, "EINVAL" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" }, { ENOSPC, "ENOSPC" }, { ERANGE, "ERANGE" },
		{ ENOSYS, "ENOSYS" }, { EOVERFLOW, "EOVERFLOW" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { EMSGSIZE, "EMSGSIZE" },
		{ ENOTSUP, "EOPNOTSUPP" }, { ETIMEDOUT, "ETIMEDOUT" }, { EDEADLK, "EDEADLK" }, { ENOLINK, "ENOLINK" },
		{ ECANCELED, "ECANCELED" },
	};
	static __thread char other[16];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].e == e)
			return names[i].name;
	snprintf(other, sizeof other, "E%d", e);
	return other;
}

static long raw_getpid(void)
{
	return syscall(SYS_getpid);
}

/* Opens the log named by SMMU_TCK_CAPTURE, above LOG_FD_MIN; with the lock held. */
static void open_log(void)
{
	const char *path = getenv("SMMU_TCK_CAPTURE");
	char exe[512], head[1200];
	ssize_t n;
	int fd, high;

	log_fd = -1;
	if (!path || !*path)
		return;
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	high = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, LOG_FD_MIN);
	syscall(SYS_close, fd);
	if (high < 0)
		return;
	log_fd = high;
	n = syscall(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	n = snprintf(head, sizeof head, "# smmu-nesting-tck capture 1 pid=%ld exe=%s log_fd=%d\n", raw_getpid(), exe, log_fd);
	syscall(SYS_write, log_fd, head, (size_t)n);
}

/* Writes the line (prefixed with pid and sequence number) and a newline. */
static void emit(struct line *l)
{
	char prefix[48];
	int plen;

	pthread_mutex_lock(&lock);
	if (log_fd == -2)
		open_log();
	if (log_fd >= 0) {
		plen = snprintf(prefix, sizeof prefix, "%ld %ld ", raw_getpid(), ++seq);
		if (l->len + (size_t)plen + 1 < sizeof l->text) {
			memmove(l->text + plen, l->text, l->len);
			memcpy(l->text, prefix, (size_t)plen);
			l->len += (size_t)plen;
		}
		l->text[l->len++] = '\n';
		syscall(SYS_write, log_fd, l->text, l->len);
	}
	pthread_mutex_unlock(&lock);
}

static int logging(void)
{
	if (log_fd == -2) {
		pthread_mutex_lock(&lock);
		if (log_fd == -2)
			open_log();
		pthread_mutex_unlock(&lock);
	}
	return log_fd >= 0;
}

static void put_result(struct line *l, long ret, int err)
{
	if (ret < 0)
		put(l, " = %ld %s", ret, errno_name(err));
	else
		put(l, " = %ld", ret);
}

/* ---------------------------------------------------------------------------------------- */
/* Reading the caller's structs (bounds are the caller's argsz, never more than we copied) */

#define IN_MAX 4096

static uint32_t u32(const void *p, size_t off)
{
	uint32_t v;
	memcpy(&v, (const char *)p + off, 4);
	return v;
}

static uint64_t u64(const void *p, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)p + off, 8);
	return v;
}

static uint16_t u16(const void *p, size_t off)
{
	uint16_t v;
	memcpy(&v, (const char *)p + off, 2);
	return v;
}

/* A copy of the caller's struct as it was before the call: its first u32 is argsz (or size). */
struct before {
	unsigned char b[IN_MAX];
	uint32_t size; /* the caller's argsz / size */
	size_t have;   /* bytes copied */
};

/* This thread's line and struct copy: on the heap, so that no wrapper takes stack it may not have. */
struct scratch {
	struct line line;
	struct before in;
};

static struct scratch *scratch(void)
{
	static __thread struct scratch *mine;
	if (!mine)
		mine = calloc(1, sizeof *mine);
	return mine;
}

static void snapshot(struct before *in, const void *arg)
{
	memset(in->b, 0, sizeof in->b);
	in->size = 0;
	in->have = 0;
	if (!arg)
		return;
	memcpy(&in->size, arg, 4);
	in->have = in->size < IN_MAX ? in->size : IN_MAX;
	if (in->have < 4)
		in->have = 4;
	memcpy(in->b, arg, in->have);
}

/* ---------------------------------------------------------------------------------------- */
/* Capability chains: header { u16 id; u16 version; u32 next }, offsets from the struct's start. */

static const char *iommu_cap_name(unsigned id)
{
	switch (id) {
	case 1: return "iova_range";
	case 2: return "migration";
	case 3: return "dma_avail";
	default: return NULL;
	}
}

static void put_iommu_caps(struct line *l, const unsigned char *info, uint32_t len, uint32_t first)
{
	char order[256] = "";
	size_t olen = 0;
	int guard = 0;

	for (uint32_t off = first; off && off + 8 <= len && guard < 32; guard++) {
		unsigned id = u16(info, off);
		unsigned version = u16(info, off + 2);
		const char *name = iommu_cap_name(id);
		char tmp[32];

		if (!name) {
			snprintf(tmp, sizeof tmp, "cap%u", id);
			name = tmp;
		}
		olen += (size_t)snprintf(order + olen, sizeof order - olen, "%s%s", olen ? "," : "", name);
		if (olen >= sizeof order)
			olen = sizeof order - 1;
		if (id == 1 && off + 16 <= len) {
			uint32_t nr = u32(info, off + 8);
			put(l, " cap.iova_range=");
			for (uint32_t i = 0; i < nr && off + 16 + (i + 1) * 16 <= len; i++)
				put(l, "%s0x%llx-0x%llx", i ? "," : "", (unsigned long long)u64(info, off + 16 + i * 16),
				    (unsigned long long)u64(info, off + 24 + i * 16));
			if (nr == 0)
				put(l, "none");
		} else if (id == 2 && off + 32 <= len) {
			put(l, " cap.migration=flags:0x%x,pgsizes:0x%llx,max_bitmap:0x%llx", u32(info, off + 8),
			    (unsigned long long)u64(info, off + 16), (unsigned long long)u64(info, off + 24));
		} else if (id == 3 && off + 12 <= len) {
			put(l, " cap.dma_avail=%u", u32(info, off + 8));
		}
		if (version != 1)
			put(l, " cap.%s.version=%u", name, version);
		off = u32(info, off + 4);
	}
	put(l, " caps=%s", olen ? order : "none");
}

/* One capability of a chain, written as a word of " caps=a,b,c". */
typedef void (*cap_writer)(struct line *l, const unsigned char *info, uint32_t len, uint32_t off, unsigned id);

/* " caps=<each capability>" (or none), following the chain from `first` inside `len` bytes. */
static void put_caps(struct line *l, const unsigned char *info, uint32_t len, uint32_t first, cap_writer write)
{
	int guard = 0;

	put(l, " caps=");
	if (!first)
		put(l, "none");
	for (uint32_t off = first; off && off + 8 <= len && guard < 32; guard++) {
		if (guard)
			put(l, ",");
		write(l, info, len, off, u16(info, off));
		off = u32(info, off + 4);
	}
}

static void region_cap(struct line *l, const unsigned char *info, uint32_t len, uint32_t off, unsigned id)
{
	if (id == 1 && off + 16 <= len) { /* VFIO_REGION_INFO_CAP_SPARSE_MMAP */
		uint32_t nr = u32(info, off + 8);
		put(l, "sparse_mmap");
		for (uint32_t i = 0; i < nr && off + 16 + (i + 1) * 16 <= len; i++)
			put(l, ":0x%llx+0x%llx", (unsigned long long)u64(info, off + 16 + i * 16),
			    (unsigned long long)u64(info, off + 24 + i * 16));
	} else if (id == 2 && off + 16 <= len) { /* VFIO_REGION_INFO_CAP_TYPE */
		put(l, "type:0x%x:0x%x", u32(info, off + 8), u32(info, off + 12));
	} else if (id == 3) {
		put(l, "msix_mappable");
	} else {
		put(l, "cap%u", id);
	}
}

static void device_cap(struct line *l, const unsigned char *info, uint32_t len, uint32_t off, unsigned id)
{
	if (id == 5 && off + 16 <= len) /* VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP */
		put(l, "pci_atomic_comp:0x%x", u32(info, off + 8));
	else
		put(l, "cap%u", id);
}

/* ---------------------------------------------------------------------------------------- */
/* ioctl decoding: `in` before the call (what the caller asked), `arg` after (what came back) */

static const char *feature_name(unsigned f)
{
	static const char *const names[] = { "PCI_VF_TOKEN", "MIGRATION", "MIG_DEVICE_STATE", "LOW_POWER_ENTRY",
					      "LOW_POWER_ENTRY_WITH_WAKEUP", "LOW_POWER_EXIT", "DMA_LOGGING_START",
					      "DMA_LOGGING_STOP", "DMA_LOGGING_REPORT", "MIG_DATA_SIZE", "BUS_MASTER",
					      "DMA_BUF" };
	return f < sizeof names / sizeof names[0] ? names[f] : NULL;
}

static void put_fd_ref(struct line *l, const char *key, int fd)
{
	put(l, " %s=%s:%d", key, kind_names[kind_of(fd)], fd);
}

static void decode_container(struct line *l, unsigned long cmd, void *arg, long ret, int e, const struct before *in)
{
	switch (cmd) {
	case VFIO_GET_API_VERSION:
		put(l, " VFIO_GET_API_VERSION");
		put_result(l, ret, e);
		return;
	case VFIO_CHECK_EXTENSION:
		put(l, " VFIO_CHECK_EXTENSION ext=%lu", (unsigned long)arg);
		put_result(l, ret, e);
		return;
	case VFIO_SET_IOMMU:
		put(l, " VFIO_SET_IOMMU type=%lu", (unsigned long)arg);
		put_result(l, ret, e);
		return;
	case VFIO_IOMMU_GET_INFO: {
		uint32_t argsz = u32(arg, 0);
		put(l, " VFIO_IOMMU_GET_INFO argsz=0x%x", in->size);
		put_result(l, ret, e);
		if (ret < 0)
			return;
		/* The kernel copies back min(argsz, sizeof(struct vfio_iommu_type1_info)) = 24 bytes. */
		put(l, " argsz=0x%x flags=0x%x", argsz, u32(arg, 4));
		if (in->size >= 16)
			put(l, " pgsizes=0x%llx", (unsigned long long)u64(arg, 8));
		if (in->size >= 24) {
			uint32_t cap_offset = u32(arg, 16);
			put(l, " cap_offset=0x%x", cap_offset);
			if ((u32(arg, 4) & VFIO_IOMMU_INFO_CAPS) && cap_offset && argsz <= in->size)
				put_iommu_caps(l, arg, in->size, cap_offset);
		}
		return;
	}
	case VFIO_IOMMU_MAP_DMA:
		put(l, " VFIO_IOMMU_MAP_DMA argsz=0x%x flags=0x%x vaddr=0x%llx iova=0x%llx size=0x%llx", in->size, u32(in->b, 4),
		    (unsigned long long)u64(in->b, 8), (unsigned long long)u64(in->b, 16), (unsigned long long)u64(in->b, 24));
		put_result(l, ret, e);
		return;
	case VFIO_IOMMU_UNMAP_DMA:
		put(l, " VFIO_IOMMU_UNMAP_DMA argsz=0x%x flags=0x%x iova=0x%llx size=0x%llx", in->size, u32(in->b, 4),
		    (unsigned long long)u64(in->b, 8), (unsigned long long)u64(in->b, 16));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " size=0x%llx", (unsigned long long)u64(arg, 16));
		return;
	case VFIO_IOMMU_DIRTY_PAGES:
		put(l, " VFIO_IOMMU_DIRTY_PAGES argsz=0x%x flags=0x%x", in->size, u32(in->b, 4));
		put_result(l, ret, e);
		return;
	case VFIO_IOMMU_ENABLE:
	case VFIO_IOMMU_DISABLE:
		put(l, " %s", cmd == VFIO_IOMMU_ENABLE ? "VFIO_IOMMU_ENABLE" : "VFIO_IOMMU_DISABLE");
		put_result(l, ret, e);
		return;
	}
	put(l, " cmd=0x%lx arg=0x%lx", cmd, (unsigned long)arg);
	put_result(l, ret, e);
}

static void decode_group(struct line *l, unsigned long cmd, void *arg, long ret, int e, const struct before *in)
{
	switch (cmd) {
	case VFIO_GROUP_GET_STATUS:
		put(l, " VFIO_GROUP_GET_STATUS argsz=0x%x", in->size);
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " flags=0x%x", u32(arg, 4));
		return;
	case VFIO_GROUP_SET_CONTAINER: {
		int cfd = arg ? *(int *)arg : -1;
		put(l, " VFIO_GROUP_SET_CONTAINER");
		put_fd_ref(l, "fd", cfd);
		put_result(l, ret, e);
		return;
	}
	case VFIO_GROUP_UNSET_CONTAINER:
		put(l, " VFIO_GROUP_UNSET_CONTAINER");
		put_result(l, ret, e);
		return;
	case VFIO_GROUP_GET_DEVICE_FD:
		put(l, " VFIO_GROUP_GET_DEVICE_FD name=%.64s", arg ? (const char *)arg : "(null)");
		put_result(l, ret, e);
		return;
	}
	put(l, " cmd=0x%lx arg=0x%lx", cmd, (unsigned long)arg);
	put_result(l, ret, e);
}

static void decode_device(struct line *l, unsigned long cmd, void *arg, long ret, int e, const struct before *in)
{

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		uint32_t argsz = u32(arg, 0), flags = u32(arg, 4);
		put(l, " VFIO_DEVICE_GET_INFO argsz=0x%x", in->size);
		put_result(l, ret, e);
		if (ret < 0)
			return;
		put(l, " argsz=0x%x flags=0x%x num_regions=%u num_irqs=%u", argsz, flags, u32(arg, 8), u32(arg, 12));
		if (in->size >= 20) {
			put(l, " cap_offset=0x%x", u32(arg, 16));
			if ((flags & VFIO_DEVICE_FLAGS_CAPS) && u32(arg, 16) && argsz <= in->size)
				put_caps(l, arg, in->size, u32(arg, 16), device_cap);
		}
		return;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		uint32_t argsz = u32(arg, 0), flags = u32(arg, 4);
		put(l, " VFIO_DEVICE_GET_REGION_INFO argsz=0x%x index=%u", in->size, u32(in->b, 8));
		put_result(l, ret, e);
		if (ret < 0)
			return;
		put(l, " argsz=0x%x flags=0x%x cap_offset=0x%x size=0x%llx offset=0x%llx", argsz, flags, u32(arg, 12),
		    (unsigned long long)u64(arg, 16), (unsigned long long)u64(arg, 24));
		if ((flags & VFIO_REGION_INFO_FLAG_CAPS) && u32(arg, 12) && argsz <= in->size)
			put_caps(l, arg, in->size, u32(arg, 12), region_cap);
		return;
	}
	case VFIO_DEVICE_GET_IRQ_INFO:
		put(l, " VFIO_DEVICE_GET_IRQ_INFO argsz=0x%x index=%u", in->size, u32(in->b, 8));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " flags=0x%x count=%u", u32(arg, 4), u32(arg, 12));
		return;
	case VFIO_DEVICE_SET_IRQS: {
		uint32_t flags = u32(in->b, 4), count = u32(in->b, 16);
		put(l, " VFIO_DEVICE_SET_IRQS argsz=0x%x flags=0x%x index=%u start=%u count=%u", in->size, flags, u32(in->b, 8),
		    u32(in->b, 12), count);
		if ((flags & VFIO_IRQ_SET_DATA_EVENTFD) && 20 + (size_t)count * 4 <= in->have) {
			put(l, " fds=");
			for (uint32_t i = 0; i < count; i++) {
				int32_t efd = (int32_t)u32(in->b, 20 + i * 4);
				put(l, "%s%d", i ? "," : "", efd);
			}
		} else if ((flags & VFIO_IRQ_SET_DATA_BOOL) && 20 + (size_t)count <= in->have) {
			put_hex(l, "bools", in->b + 20, count);
		}
		put_result(l, ret, e);
		return;
	}
	case VFIO_DEVICE_RESET:
		put(l, " VFIO_DEVICE_RESET");
		put_result(l, ret, e);
		return;
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: {
		uint32_t argsz = u32(arg, 0), count = u32(arg, 8);
		put(l, " VFIO_DEVICE_GET_PCI_HOT_RESET_INFO argsz=0x%x", in->size);
		put_result(l, ret, e);
		/* ENOSPC: argsz too small; the kernel has written the count back. */
		if (ret < 0 && e != ENOSPC)
			return;
		put(l, " argsz=0x%x flags=0x%x count=%u", argsz, u32(arg, 4), count);
		/* struct vfio_pci_dependent_device: u32 group_id (or devid), u16 segment, u8 bus, u8 devfn */
		if (ret >= 0 && 12 + (size_t)count * 8 <= in->size) {
			put(l, " devices=");
			for (uint32_t i = 0; i < count; i++) {
				const unsigned char *d = (const unsigned char *)arg + 12 + i * 8;
				put(l, "%s%u:%04x:%02x:%02x.%u", i ? "," : "", u32(d, 0), u16(d, 4), d[6], (d[7] >> 3) & 0x1f, d[7] & 7);
			}
		}
		return;
	}
	case VFIO_DEVICE_PCI_HOT_RESET: {
		uint32_t count = u32(in->b, 8);
		put(l, " VFIO_DEVICE_PCI_HOT_RESET argsz=0x%x flags=0x%x count=%u", in->size, u32(in->b, 4), count);
		if (12 + (size_t)count * 4 <= in->have) {
			put(l, " fds=");
			for (uint32_t i = 0; i < count; i++)
				put(l, "%s%d", i ? "," : "", (int32_t)u32(in->b, 12 + i * 4));
		}
		put_result(l, ret, e);
		return;
	}
	case VFIO_DEVICE_FEATURE: {
		uint32_t flags = u32(in->b, 4);
		const char *name = feature_name(flags & VFIO_DEVICE_FEATURE_MASK);
		put(l, " VFIO_DEVICE_FEATURE argsz=0x%x flags=0x%x", in->size, flags);
		if (name)
			put(l, " feature=%s", name);
		else
			put(l, " feature=%u", flags & VFIO_DEVICE_FEATURE_MASK);
		put(l, " op=%s%s%s", flags & VFIO_DEVICE_FEATURE_PROBE ? "probe" : "",
		    (flags & VFIO_DEVICE_FEATURE_PROBE) && (flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) ? "|" : "",
		    flags & VFIO_DEVICE_FEATURE_GET ? "get" : flags & VFIO_DEVICE_FEATURE_SET ? "set" : "");
		/* A GET may carry input too (DMA_BUF: the region and ranges to export). */
		if (in->have > 8)
			put_hex(l, "in", in->b + 8, in->have - 8);
		put_result(l, ret, e);
		if (ret >= 0 && (flags & VFIO_DEVICE_FEATURE_GET) && in->size > 8)
			put_hex(l, "out", (const unsigned char *)arg + 8, in->size - 8 < 64 ? in->size - 8 : 64);
		return;
	}
	case VFIO_DEVICE_BIND_IOMMUFD:
		put(l, " VFIO_DEVICE_BIND_IOMMUFD argsz=0x%x flags=0x%x", in->size, u32(in->b, 4));
		put_fd_ref(l, "iommufd", (int32_t)u32(in->b, 8));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " out_devid=%u", u32(arg, 12));
		return;
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
		put(l, " VFIO_DEVICE_ATTACH_IOMMUFD_PT argsz=0x%x flags=0x%x pt_id=%u", in->size, u32(in->b, 4), u32(in->b, 8));
		if (in->size >= 16)
			put(l, " pasid=%u", u32(in->b, 12));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " pt_id=%u", u32(arg, 8));
		return;
	case VFIO_DEVICE_DETACH_IOMMUFD_PT:
		put(l, " VFIO_DEVICE_DETACH_IOMMUFD_PT argsz=0x%x flags=0x%x", in->size, u32(in->b, 4));
		put_result(l, ret, e);
		return;
	case VFIO_DEVICE_IOEVENTFD:
		put(l, " VFIO_DEVICE_IOEVENTFD argsz=0x%x flags=0x%x offset=0x%llx data=0x%llx fd=%d", in->size, u32(in->b, 4),
		    (unsigned long long)u64(in->b, 8), (unsigned long long)u64(in->b, 16), (int32_t)u32(in->b, 24));
		put_result(l, ret, e);
		return;
	}
	put(l, " cmd=0x%lx arg=0x%lx", cmd, (unsigned long)arg);
	put_result(l, ret, e);
}

static void put_ranges(struct line *l, const char *key, uint64_t uptr, uint32_t n)
{
	const uint64_t *r = (const uint64_t *)(uintptr_t)uptr;
	put(l, " %s=", key);
	if (!r || n == 0) {
		put(l, "none");
		return;
	}
	for (uint32_t i = 0; i < n && i < 64; i++)
		put(l, "%s0x%llx-0x%llx", i ? "," : "", (unsigned long long)r[2 * i], (unsigned long long)r[2 * i + 1]);
}

static void decode_iommufd(struct line *l, unsigned long cmd, void *arg, long ret, int e, const struct before *in)
{
	const unsigned char *b = in->b;

	switch (cmd) {
	case IOMMU_DESTROY:
		put(l, " IOMMU_DESTROY size=%u id=%u", in->size, u32(b, 4));
		put_result(l, ret, e);
		return;
	case IOMMU_IOAS_ALLOC:
		put(l, " IOMMU_IOAS_ALLOC size=%u flags=0x%x", in->size, u32(b, 4));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " out_ioas_id=%u", u32(arg, 8));
		return;
	case IOMMU_IOAS_ALLOW_IOVAS:
		put(l, " IOMMU_IOAS_ALLOW_IOVAS size=%u ioas_id=%u num_iovas=%u", in->size, u32(b, 4), u32(b, 8));
		put_ranges(l, "ranges", u64(b, 16), u32(b, 8));
		put_result(l, ret, e);
		return;
	case IOMMU_IOAS_COPY:
		put(l, " IOMMU_IOAS_COPY size=%u flags=0x%x dst_ioas_id=%u src_ioas_id=%u length=0x%llx dst_iova=0x%llx src_iova=0x%llx",
		    in->size, u32(b, 4), u32(b, 8), u32(b, 12), (unsigned long long)u64(b, 16), (unsigned long long)u64(b, 24),
		    (unsigned long long)u64(b, 32));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " dst_iova=0x%llx", (unsigned long long)u64(arg, 24));
		return;
	case IOMMU_IOAS_IOVA_RANGES: {
		uint32_t num = u32(arg, 8);
		put(l, " IOMMU_IOAS_IOVA_RANGES size=%u ioas_id=%u num_iovas=%u", in->size, u32(b, 4), u32(b, 8));
		put_result(l, ret, e);
		/* EMSGSIZE: the array was too small; num_iovas says how many there are. */
		if (ret < 0 && e != EMSGSIZE)
			return;
		put(l, " num_iovas=%u", num);
		if (ret >= 0) {
			put(l, " out_iova_alignment=0x%llx", (unsigned long long)u64(arg, 24));
			put_ranges(l, "ranges", u64(arg, 16), num <= u32(b, 8) ? num : u32(b, 8));
		}
		return;
	}
	case IOMMU_IOAS_MAP:
		put(l, " IOMMU_IOAS_MAP size=%u flags=0x%x ioas_id=%u user_va=0x%llx length=0x%llx iova=0x%llx", in->size, u32(b, 4),
		    u32(b, 8), (unsigned long long)u64(b, 16), (unsigned long long)u64(b, 24), (unsigned long long)u64(b, 32));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " iova=0x%llx", (unsigned long long)u64(arg, 32));
		return;
	case IOMMU_IOAS_MAP_FILE:
		put(l, " IOMMU_IOAS_MAP_FILE size=%u flags=0x%x ioas_id=%u fd=%d start=0x%llx length=0x%llx iova=0x%llx", in->size,
		    u32(b, 4), u32(b, 8), (int32_t)u32(b, 12), (unsigned long long)u64(b, 16), (unsigned long long)u64(b, 24),
		    (unsigned long long)u64(b, 32));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " iova=0x%llx", (unsigned long long)u64(arg, 32));
		return;
	case IOMMU_IOAS_UNMAP:
		put(l, " IOMMU_IOAS_UNMAP size=%u ioas_id=%u iova=0x%llx length=0x%llx", in->size, u32(b, 4),
		    (unsigned long long)u64(b, 8), (unsigned long long)u64(b, 16));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " length=0x%llx", (unsigned long long)u64(arg, 16));
		return;
	case IOMMU_OPTION:
		put(l, " IOMMU_OPTION size=%u option_id=%u op=%u object_id=%u val64=0x%llx", in->size, u32(b, 4), u16(b, 8),
		    u32(b, 12), (unsigned long long)u64(b, 16));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " val64=0x%llx", (unsigned long long)u64(arg, 16));
		return;
	case IOMMU_VFIO_IOAS:
		put(l, " IOMMU_VFIO_IOAS size=%u ioas_id=%u op=%u", in->size, u32(b, 4), u16(b, 8));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " ioas_id=%u", u32(arg, 4));
		return;
	case IOMMU_HWPT_ALLOC: {
		uint32_t len = u32(b, 28);
		put(l, " IOMMU_HWPT_ALLOC size=%u flags=0x%x dev_id=%u pt_id=%u data_type=%u data_len=%u", in->size, u32(b, 4),
		    u32(b, 8), u32(b, 12), u32(b, 24), len);
		if (len && u64(b, 32))
			put_hex(l, "data", (const void *)(uintptr_t)u64(b, 32), len < 256 ? len : 256);
		if (in->size >= 48)
			put(l, " fault_id=%u", u32(b, 40));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " out_hwpt_id=%u", u32(arg, 16));
		return;
	}
	case IOMMU_GET_HW_INFO: {
		uint32_t in_len = u32(b, 12), out_len = u32(arg, 12);
		put(l, " IOMMU_GET_HW_INFO size=%u flags=0x%x dev_id=%u data_len=%u", in->size, u32(b, 4), u32(b, 8), in_len);
		if (in->size >= 28 && (u32(b, 4) & 1))
			put(l, " in_data_type=%u", u32(b, 24));
		put_result(l, ret, e);
		if (ret < 0)
			return;
		put(l, " data_len=%u out_data_type=%u", out_len, u32(arg, 24));
		if (in->size >= 29)
			put(l, " out_max_pasid_log2=%u", ((const unsigned char *)arg)[28]);
		if (in->size >= 40)
			put(l, " out_capabilities=0x%llx", (unsigned long long)u64(arg, 32));
		if (u64(b, 16))
			put_hex(l, "data", (const void *)(uintptr_t)u64(b, 16), in_len < out_len ? in_len : out_len);
		return;
	}
	case IOMMU_HWPT_SET_DIRTY_TRACKING:
		put(l, " IOMMU_HWPT_SET_DIRTY_TRACKING size=%u flags=0x%x hwpt_id=%u", in->size, u32(b, 4), u32(b, 8));
		put_result(l, ret, e);
		return;
	case IOMMU_HWPT_GET_DIRTY_BITMAP:
		put(l, " IOMMU_HWPT_GET_DIRTY_BITMAP size=%u hwpt_id=%u flags=0x%x iova=0x%llx length=0x%llx page_size=0x%llx", in->size,
		    u32(b, 4), u32(b, 8), (unsigned long long)u64(b, 16), (unsigned long long)u64(b, 24),
		    (unsigned long long)u64(b, 32));
		put_result(l, ret, e);
		return;
	case IOMMU_HWPT_INVALIDATE: {
		uint32_t entry_len = u32(b, 20), entry_num = u32(b, 24);
		size_t bytes = (size_t)entry_len * entry_num;
		put(l, " IOMMU_HWPT_INVALIDATE size=%u hwpt_id=%u data_type=%u entry_len=%u entry_num=%u", in->size, u32(b, 4),
		    u32(b, 16), entry_len, entry_num);
		if (bytes && u64(b, 8))
			put_hex(l, "data", (const void *)(uintptr_t)u64(b, 8), bytes < 2048 ? bytes : 2048);
		put_result(l, ret, e);
		put(l, " entry_num=%u", u32(arg, 24));
		return;
	}
	case IOMMU_FAULT_QUEUE_ALLOC:
		put(l, " IOMMU_FAULT_QUEUE_ALLOC size=%u flags=0x%x", in->size, u32(b, 4));
		put_result(l, ret, e);
		if (ret >= 0) {
			put(l, " out_fault_id=%u out_fault_fd=%d", u32(arg, 8), (int32_t)u32(arg, 12));
			set_kind((int32_t)u32(arg, 12), K_FAULTQ);
		}
		return;
	case IOMMU_VIOMMU_ALLOC:
		put(l, " IOMMU_VIOMMU_ALLOC size=%u flags=0x%x type=%u dev_id=%u hwpt_id=%u", in->size, u32(b, 4), u32(b, 8),
		    u32(b, 12), u32(b, 16));
		if (in->size >= 40)
			put(l, " data_len=%u", u32(b, 24));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " out_viommu_id=%u", u32(arg, 20));
		return;
	case IOMMU_VDEVICE_ALLOC:
		put(l, " IOMMU_VDEVICE_ALLOC size=%u viommu_id=%u dev_id=%u virt_id=0x%llx", in->size, u32(b, 4), u32(b, 8),
		    (unsigned long long)u64(b, 16));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " out_vdevice_id=%u", u32(arg, 12));
		return;
	case IOMMU_VEVENTQ_ALLOC:
		put(l, " IOMMU_VEVENTQ_ALLOC size=%u flags=0x%x viommu_id=%u type=%u veventq_depth=%u", in->size, u32(b, 4),
		    u32(b, 8), u32(b, 12), u32(b, 16));
		put_result(l, ret, e);
		if (ret >= 0) {
			put(l, " out_veventq_id=%u out_veventq_fd=%d", u32(arg, 20), (int32_t)u32(arg, 24));
			set_kind((int32_t)u32(arg, 24), K_VEVENTQ);
		}
		return;
	case IOMMU_IOAS_CHANGE_PROCESS:
		put(l, " IOMMU_IOAS_CHANGE_PROCESS size=%u", in->size);
		put_result(l, ret, e);
		return;
	case IOMMU_HW_QUEUE_ALLOC:
		put(l, " IOMMU_HW_QUEUE_ALLOC size=%u", in->size);
		put_result(l, ret, e);
		return;
	}
	put(l, " cmd=0x%lx arg=0x%lx", cmd, (unsigned long)arg);
	put_result(l, ret, e);
}

/* KVM: only what ties VFIO to it. Returns 0 when the call is not written down. */
static int decode_kvm(struct line *l, enum kind k, unsigned long cmd, void *arg, long ret, int e)
{
	if (k == K_KVM && cmd == KVM_CREATE_VM) {
		put(l, " KVM_CREATE_VM type=%lu", (unsigned long)arg);
		put_result(l, ret, e);
		return 1;
	}
	if (k == K_KVM_VM && cmd == KVM_CREATE_DEVICE && arg) {
		uint32_t type = u32(arg, 0);
		put(l, " KVM_CREATE_DEVICE type=%u flags=0x%x", type, u32(arg, 8));
		put_result(l, ret, e);
		if (ret >= 0)
			put(l, " fd=%d", (int32_t)u32(arg, 4));
		return 1;
	}
	if (k == K_KVM_VM && cmd == KVM_IRQFD && arg) {
		put(l, " KVM_IRQFD fd=%d gsi=%u flags=0x%x resamplefd=%d", (int32_t)u32(arg, 0), u32(arg, 4), u32(arg, 8),
		    (int32_t)u32(arg, 12));
		put_result(l, ret, e);
		return 1;
	}
	if (k == K_KVM_VFIO && (cmd == KVM_SET_DEVICE_ATTR || cmd == KVM_HAS_DEVICE_ATTR) && arg) {
		uint64_t addr = u64(arg, 16);
		put(l, " %s group=%u attr=%llu", cmd == KVM_SET_DEVICE_ATTR ? "KVM_SET_DEVICE_ATTR" : "KVM_HAS_DEVICE_ATTR",
		    u32(arg, 4), (unsigned long long)u64(arg, 8));
		if (addr)
			put_fd_ref(l, "fd", *(int32_t *)(uintptr_t)addr);
		put_result(l, ret, e);
		return 1;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Wrappers */

/* What a path opens: by the name /proc/self/fd gives for the new descriptor. */
static enum kind kind_of_path(int fd, char *resolved, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = syscall(SYS_readlinkat, AT_FDCWD, link, resolved, size - 1);
	if (n <= 0)
		return K_NONE;
	resolved[n] = 0;
	if (!strcmp(resolved, "/dev/vfio/vfio"))
		return K_CONTAINER;
	if (!strncmp(resolved, "/dev/vfio/devices/", 18))
		return K_DEVICE;
	if (!strncmp(resolved, "/dev/vfio/", 10) && resolved[10] >= '0' && resolved[10] <= '9')
		return K_GROUP;
	if (!strncmp(resolved, "/dev/vfio/noiommu-", 18))
		return K_GROUP;
	if (!strcmp(resolved, "/dev/iommu"))
		return K_IOMMUFD;
	if (!strcmp(resolved, "/dev/kvm"))
		return K_KVM;
	return K_NONE;
}

/* Whether a failed open is written down: a path under /dev/vfio or /dev/char, /dev/iommu, /dev/kvm. */
static int interesting_path(const char *path)
{
	return path && (!strncmp(path, "/dev/vfio", 9) || !strcmp(path, "/dev/iommu") || !strcmp(path, "/dev/kvm") ||
			!strncmp(path, "/dev/char/", 10));
}

static int after_open(int dirfd, const char *path, int flags, int ret, int err)
{
	char resolved[256] = "";
	enum kind k = K_NONE;
	struct line *l;

	if (ret >= 0) {
		k = kind_of_path(ret, resolved, sizeof resolved);
		set_kind(ret, k); /* also forgets what an earlier descriptor of that number was */
	}
	if ((k == K_NONE && !(ret < 0 && interesting_path(path))) || !logging() || !(l = &scratch()->line)) {
		errno = err;
		return ret;
	}
	l->len = 0;
	put(l, "open path=%s", path ? path : "(null)");
	if (dirfd != AT_FDCWD && path && path[0] != '/')
		put(l, " dirfd=%d", dirfd);
	put(l, " flags=0x%x", (unsigned)flags);
	put_result(l, ret, err);
	if (ret >= 0) {
		put(l, " kind=%s", kind_names[k]);
		if (path && strcmp(resolved, path))
			put(l, " resolved=%s", resolved);
	}
	emit(l);
	errno = err;
	return ret;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

/* open and openat under every name glibc has for them; a name this libc lacks goes to the syscall. */
static int do_openat(openat_fn fn, int dirfd, const char *path, int flags, mode_t mode)
{
	int ret = fn ? fn(dirfd, path, flags, mode) : (int)syscall(SYS_openat, dirfd, path, flags, mode);
	return after_open(dirfd, path, flags, ret, errno);
}

static int do_open(open_fn fn, const char *path, int flags, mode_t mode)
{
	int ret = fn ? fn(path, flags, mode) : (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
	return after_open(AT_FDCWD, path, flags, ret, errno);
}

#define OPEN_MODE(flags, mode)              \
	do {                                    \
		va_list ap;                         \
		va_start(ap, flags);                \
		mode = mode_arg(flags, ap);         \
		va_end(ap);                         \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode;
	OPEN_MODE(flags, mode);
	return do_open(real_open(), path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode;
	OPEN_MODE(flags, mode);
	return do_open(real_open64(), path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;
	OPEN_MODE(flags, mode);
	return do_openat(real_openat(), dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;
	OPEN_MODE(flags, mode);
	return do_openat(real_openat64(), dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags)
{
	open2_fn fn = real___open_2();
	int ret = fn ? fn(path, flags) : (int)syscall(SYS_openat, AT_FDCWD, path, flags, 0);
	return after_open(AT_FDCWD, path, flags, ret, errno);
}

int __open64_2(const char *path, int flags)
{
	open2_fn fn = real___open64_2();
	int ret = fn ? fn(path, flags) : (int)syscall(SYS_openat, AT_FDCWD, path, flags, 0);
	return after_open(AT_FDCWD, path, flags, ret, errno);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	openat2_fn fn = real___openat_2();
	int ret = fn ? fn(dirfd, path, flags) : (int)syscall(SYS_openat, dirfd, path, flags, 0);
	return after_open(dirfd, path, flags, ret, errno);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	openat2_fn fn = real___openat64_2();
	int ret = fn ? fn(dirfd, path, flags) : (int)syscall(SYS_openat, dirfd, path, flags, 0);
	return after_open(dirfd, path, flags, ret, errno);
}

/* ---------------------------------------------------------------------------------------- */
/*
 * io_uring: the polls an event loop keeps on a followed descriptor.
 *
 * A VMM may watch its descriptors with io_uring instead of poll(2) (QEMU: util/fdmon-io_uring.c,
 * one IORING_OP_POLL_ADD per watched descriptor, re-armed after each completion). Such a request
 * holds a reference to the file it polls until it completes (Linux io_uring/io_uring.c:
 * io_assign_file takes it with io_file_get_normal, io_put_file drops it when the request is freed),
 * so a close(2) of the descriptor while one is outstanding does not release the file.
 *
 * liburing prepares requests in the submission ring without a call (its helpers are inline), so
 * the library wraps the exported calls that submit them - io_uring_submit and
 * io_uring_submit_and_wait - and reads the entries about to be submitted, [sq.sqe_head,
 * sq.sqe_tail); and it reads the completions the kernel posted in the completion ring since it
 * last looked (it looks at each submit, before and after, at each close of a followed descriptor
 * and at exit). The rings are the process's own memory; struct io_uring's layout is liburing.so.2's
 * ABI (liburing src/include/liburing.h), the entries' the kernel's (include/uapi/linux/io_uring.h).
 * Only polls of followed descriptors (not eventfds) are written:
 *
 *   uring_init entries=128 flags=0x0 = 0 ring_fd=7          (or = -1 EPERM: no ring)
 *   uring_poll_add veventq:23 ring=7 events=0x1 user_data=0xaaaa...
 *   uring_poll_remove veventq:23 ring=7 user_data=0xaaaa...   (IORING_OP_POLL_REMOVE of that poll)
 *   uring_poll_done veventq:23 ring=7 user_data=0xaaaa... = -1 ECANCELED   (the poll's completion)
 *
 * and a close (or the exit) while such polls have not completed says `pending_polls=N`
 * (`pending_polls=unknown` if completions were overwritten before the library saw them).
 */

struct lu_sq {
	unsigned *khead, *ktail, *kring_mask, *kring_entries, *kflags, *kdropped, *array;
	unsigned char *sqes;
	unsigned sqe_head, sqe_tail;
	size_t ring_sz;
	void *ring_ptr;
	unsigned ring_mask, ring_entries;
	unsigned pad[2];
};

struct lu_cq {
	unsigned *khead, *ktail, *kring_mask, *kring_entries, *kflags, *koverflow;
	unsigned char *cqes;
	size_t ring_sz;
	void *ring_ptr;
	unsigned ring_mask, ring_entries;
	unsigned pad[2];
};

struct lu_ring {
	struct lu_sq sq;
	struct lu_cq cq;
	unsigned flags;
	int ring_fd;
};

#define IORING_SETUP_SQE128 (1u << 10)
#define IORING_SETUP_CQE32 (1u << 11)
#define IOSQE_FIXED_FILE (1u << 0)
#define IORING_OP_POLL_ADD 6
#define IORING_OP_POLL_REMOVE 7
#define SQE_BYTES 64 /* struct io_uring_sqe: opcode @0, flags @1, fd @4, addr @16, poll32_events @28, user_data @32 */
#define CQE_BYTES 16 /* struct io_uring_cqe: user_data @0, res @8 */

typedef int (*uring_init_fn)(unsigned, struct lu_ring *, unsigned);
typedef int (*uring_submit_fn)(struct lu_ring *);
typedef int (*uring_submit_wait_fn)(struct lu_ring *, unsigned);
REAL(io_uring_queue_init, uring_init_fn)
REAL(io_uring_submit, uring_submit_fn)
REAL(io_uring_submit_and_wait, uring_submit_wait_fn)

#define MAX_RINGS 16
#define MAX_POLLS 256

enum poll_state { P_FREE, P_PENDING, P_UNKNOWN };

static pthread_mutex_t uring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct lu_ring *ring;
	unsigned cq_seen; /* the completion ring's tail when the library last looked */
} rings[MAX_RINGS];
static int nrings;
static struct {
	struct lu_ring *ring;
	uint64_t user_data;
	int fd;
	enum kind kind;
	unsigned char state; /* enum poll_state */
	unsigned char closed; /* the descriptor was closed while the poll was pending */
} polls[MAX_POLLS];

/* With uring_lock held. */
static int ring_index(struct lu_ring *ring)
{
	for (int i = 0; i < nrings; i++)
		if (rings[i].ring == ring)
			return i;
	if (nrings == MAX_RINGS)
		return -1;
	rings[nrings].ring = ring;
	rings[nrings].cq_seen = __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE);
	return nrings++;
}

static int find_poll(struct lu_ring *ring, uint64_t user_data)
{
	for (int i = 0; i < MAX_POLLS; i++)
		if (polls[i].state != P_FREE && polls[i].ring == ring && polls[i].user_data == user_data)
			return i;
	return -1;
}

static void poll_line(struct line *l, const char *what, int i)
{
	l->len = 0;
	put(l, "%s %s:%d ring=%d", what, kind_names[polls[i].kind], polls[i].fd, polls[i].ring->ring_fd);
}

/* The completions posted since the library last looked; with uring_lock held. */
static void scan_completions(int ri)
{
	struct lu_ring *r = rings[ri].ring;
	unsigned tail = __atomic_load_n(r->cq.ktail, __ATOMIC_ACQUIRE);
	unsigned seen = rings[ri].cq_seen;
	unsigned shift = r->flags & IORING_SETUP_CQE32 ? 1 : 0;
	struct line *l = &scratch()->line;

	if (tail - seen > r->cq.ring_entries) {
		/* Overwritten before the library saw them: what became of pending polls is not known. */
		for (int i = 0; i < MAX_POLLS; i++)
			if (polls[i].state == P_PENDING && polls[i].ring == r)
				polls[i].state = P_UNKNOWN;
		seen = tail - r->cq.ring_entries;
	}
	for (; seen != tail; seen++) {
		const unsigned char *cqe = r->cq.cqes + (size_t)((seen & r->cq.ring_mask) << shift) * CQE_BYTES;
		int i = find_poll(r, u64(cqe, 0));
		int32_t res = (int32_t)u32(cqe, 8);

		if (i < 0)
			continue;
		if (l) {
			poll_line(l, "uring_poll_done", i);
			put(l, " user_data=0x%llx", (unsigned long long)polls[i].user_data);
			put_result(l, res < 0 ? -1 : res, -res);
			emit(l);
		}
		polls[i].state = P_FREE;
	}
	rings[ri].cq_seen = tail;
}

/* The entries about to be submitted: the polls of followed descriptors and their removals. */
static void before_submit(struct lu_ring *ring)
{
	struct line *l;
	int ri;

	if (!ring || !logging() || !(l = &scratch()->line))
		return;
	pthread_mutex_lock(&uring_lock);
	ri = ring_index(ring);
	if (ri >= 0) {
		unsigned shift = ring->flags & IORING_SETUP_SQE128 ? 1 : 0;

		scan_completions(ri);
		for (unsigned t = ring->sq.sqe_head; t != ring->sq.sqe_tail; t++) {
			const unsigned char *sqe = ring->sq.sqes + (size_t)((t & ring->sq.ring_mask) << shift) * SQE_BYTES;
			int fd = (int32_t)u32(sqe, 4);
			int i;

			if (sqe[0] == IORING_OP_POLL_ADD && !(sqe[1] & IOSQE_FIXED_FILE)) {
				enum kind k = kind_of(fd);
				if (k == K_NONE || k == K_EVENTFD)
					continue;
				i = find_poll(ring, u64(sqe, 32));
				for (int j = 0; i < 0 && j < MAX_POLLS; j++)
					if (polls[j].state == P_FREE)
						i = j;
				if (i < 0)
					continue;
				polls[i].ring = ring;
				polls[i].user_data = u64(sqe, 32);
				polls[i].fd = fd;
				polls[i].kind = k;
				polls[i].state = P_PENDING;
				polls[i].closed = 0;
				poll_line(l, "uring_poll_add", i);
				put(l, " events=0x%x user_data=0x%llx", u32(sqe, 28), (unsigned long long)polls[i].user_data);
				emit(l);
			} else if (sqe[0] == IORING_OP_POLL_REMOVE && (i = find_poll(ring, u64(sqe, 16))) >= 0) {
				poll_line(l, "uring_poll_remove", i);
				put(l, " user_data=0x%llx", (unsigned long long)polls[i].user_data);
				emit(l);
			}
		}
	}
	pthread_mutex_unlock(&uring_lock);
}

static void after_submit(struct lu_ring *ring)
{
	int ri;

	if (!ring || log_fd < 0)
		return;
	pthread_mutex_lock(&uring_lock);
	ri = ring_index(ring);
	if (ri >= 0)
		scan_completions(ri);
	pthread_mutex_unlock(&uring_lock);
}

/*
 * The polls of `fd` not yet completed (-1: not known), looked at just before the descriptor is
 * closed (fd >= 0), or every pending poll at exit (fd < 0).
 */
static int pending_polls(int fd)
{
	int n = 0, unknown = 0;

	pthread_mutex_lock(&uring_lock);
	for (int ri = 0; ri < nrings; ri++)
		scan_completions(ri);
	for (int i = 0; i < MAX_POLLS; i++) {
		if (polls[i].state == P_FREE || (fd >= 0 && (polls[i].fd != fd || polls[i].closed)))
			continue;
		n++;
		unknown |= polls[i].state == P_UNKNOWN;
		if (fd >= 0)
			polls[i].closed = 1;
	}
	pthread_mutex_unlock(&uring_lock);
	return unknown ? -1 : n;
}

static void put_pending(struct line *l, int n)
{
	if (n < 0)
		put(l, " pending_polls=unknown");
	else if (n > 0)
		put(l, " pending_polls=%d", n);
}

int io_uring_queue_init(unsigned entries, struct lu_ring *ring, unsigned flags)
{
	uring_init_fn fn = real_io_uring_queue_init();
	int ret = fn ? fn(entries, ring, flags) : -ENOSYS;
	int err = errno;
	struct line *l;

	if (ret == 0) {
		pthread_mutex_lock(&uring_lock);
		ring_index(ring);
		pthread_mutex_unlock(&uring_lock);
	}
	if (logging() && (l = &scratch()->line)) {
		l->len = 0;
		put(l, "uring_init entries=%u flags=0x%x", entries, flags);
		put_result(l, ret < 0 ? -1 : ret, -ret);
		if (ret == 0)
			put(l, " ring_fd=%d", ring->ring_fd);
		emit(l);
	}
	errno = err;
	return ret;
}

int io_uring_submit(struct lu_ring *ring)
{
	uring_submit_fn fn = real_io_uring_submit();
	int ret, err;

	before_submit(ring);
	ret = fn ? fn(ring) : -ENOSYS;
	err = errno;
	after_submit(ring);
	errno = err;
	return ret;
}

int io_uring_submit_and_wait(struct lu_ring *ring, unsigned wait_nr)
{
	uring_submit_wait_fn fn = real_io_uring_submit_and_wait();
	int ret, err;

	before_submit(ring);
	ret = fn ? fn(ring, wait_nr) : -ENOSYS;
	err = errno;
	after_submit(ring);
	errno = err;
	return ret;
}

int close(int fd)
{
	enum kind k = kind_of(fd);
	struct line *l;
	int ret, err, pending = 0;

	if (log_fd >= 0 && fd == log_fd)
		return 0; /* a VMM closing every descriptor it does not know of: the log stays */
	if (k != K_NONE && k != K_EVENTFD && log_fd >= 0)
		pending = pending_polls(fd);
	ret = real_close()(fd);
	err = errno;
	if (k != K_NONE) {
		set_kind(fd, K_NONE);
		if (k != K_EVENTFD && logging() && (l = &scratch()->line)) {
			l->len = 0;
			put(l, "close %s:%d", kind_names[k], fd);
			put_result(l, ret, err);
			put_pending(l, pending);
			emit(l);
		}
	}
	errno = err;
	return ret;
}

/* Whether cmd's argument is a pointer to a struct that starts with its size (argsz / size). */
static int sized_struct(enum kind k, unsigned long cmd, void *arg)
{
	if ((uintptr_t)arg < 4096)
		return 0;
	switch (cmd) {
	case VFIO_GET_API_VERSION:
	case VFIO_CHECK_EXTENSION:
	case VFIO_SET_IOMMU:
	case VFIO_GROUP_SET_CONTAINER:
	case VFIO_GROUP_UNSET_CONTAINER:
	case VFIO_GROUP_GET_DEVICE_FD:
	case VFIO_DEVICE_RESET:
		return 0;
	case VFIO_IOMMU_ENABLE: /* no argument; VFIO_DEVICE_GET_GFX_DMABUF on a device: a __u32 */
		return 0;
	case VFIO_IOMMU_DISABLE: /* no argument; VFIO_DEVICE_IOEVENTFD on a device: a sized struct */
		return k == K_DEVICE;
	}
	return 1;
}

int ioctl(int fd, unsigned long cmd, ...)
{
	enum kind k = kind_of(fd);
	struct scratch *s;
	struct line *l;
	va_list ap;
	void *arg;
	long ret;
	int err;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (k == K_NONE || k == K_EVENTFD || !logging() || !(s = scratch()))
		return real_ioctl()(fd, cmd, arg);
	l = &s->line;
	if (k == K_KVM || k == K_KVM_VM || k == K_KVM_VFIO) {
		ret = real_ioctl()(fd, cmd, arg);
		err = errno;
		if (ret >= 0 && k == K_KVM && cmd == KVM_CREATE_VM)
			set_kind((int)ret, K_KVM_VM);
		if (ret >= 0 && k == K_KVM_VM && cmd == KVM_CREATE_DEVICE && arg && u32(arg, 0) == KVM_DEV_TYPE_VFIO)
			set_kind((int32_t)u32(arg, 4), K_KVM_VFIO);
		l->len = 0;
		put(l, "ioctl %s:%d", kind_names[k], fd);
		if (decode_kvm(l, k, cmd, arg, ret, err))
			emit(l);
		errno = err;
		return (int)ret;
	}
	snapshot(&s->in, sized_struct(k, cmd, arg) ? arg : NULL);
	ret = real_ioctl()(fd, cmd, arg);
	err = errno;
	if (ret >= 0 && k == K_GROUP && cmd == VFIO_GROUP_GET_DEVICE_FD)
		set_kind((int)ret, K_DEVICE);
	l->len = 0;
	put(l, "ioctl %s:%d", kind_names[k], fd);
	switch (k) {
	case K_CONTAINER:
		decode_container(l, cmd, arg, ret, err, &s->in);
		break;
	case K_GROUP:
		decode_group(l, cmd, arg, ret, err, &s->in);
		break;
	case K_DEVICE:
		decode_device(l, cmd, arg, ret, err, &s->in);
		break;
	case K_IOMMUFD:
		decode_iommufd(l, cmd, arg, ret, err, &s->in);
		break;
	default:
		put(l, " cmd=0x%lx arg=0x%lx", cmd, (unsigned long)arg);
		put_result(l, ret, err);
	}
	emit(l);
	errno = err;
	return (int)ret;
}

static void *after_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset, void *ret, int err)
{
	enum kind k = kind_of(fd);
	struct line *l;

	if (k == K_NONE || !logging() || !(l = &scratch()->line)) {
		errno = err;
		return ret;
	}
	l->len = 0;
	put(l, "mmap %s:%d offset=0x%llx length=0x%zx prot=0x%x flags=0x%x", kind_names[k], fd, (unsigned long long)offset, length,
	    (unsigned)prot, (unsigned)flags);
	if (ret == MAP_FAILED)
		put(l, " = -1 %s", errno_name(err));
	else
		put(l, " = %p", ret);
	(void)addr;
	emit(l);
	errno = err;
	return ret;
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
	void *ret = real_mmap()(addr, length, prot, flags, fd, offset);
	return after_mmap(addr, length, prot, flags, fd, offset, ret, errno);
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
	mmap_fn fn = real_mmap64();
	void *ret = (fn ? fn : real_mmap())(addr, length, prot, flags, fd, offset);
	return after_mmap(addr, length, prot, flags, fd, offset, ret, errno);
}

/* pread, pwrite (offset >= 0) and read (offset -1) on a followed descriptor. */
static ssize_t after_rw(const char *call, int fd, const void *buf, size_t count, off_t offset, ssize_t ret, int err)
{
	enum kind k = kind_of(fd);
	int writes = !strcmp(call, "pwrite");
	struct line *l;

	if (k == K_NONE || k == K_EVENTFD || !logging() || !(l = &scratch()->line)) {
		errno = err;
		return ret;
	}
	l->len = 0;
	put(l, "%s %s:%d", call, kind_names[k], fd);
	if (offset >= 0)
		put(l, " offset=0x%llx", (unsigned long long)offset);
	put(l, " size=0x%zx", count);
	if (writes)
		put_hex(l, "data", buf, count);
	put_result(l, ret, err);
	if (!writes && ret > 0)
		put_hex(l, "data", buf, (size_t)ret);
	emit(l);
	errno = err;
	return ret;
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
	ssize_t ret = real_pread()(fd, buf, count, offset);
	return after_rw("pread", fd, buf, count, offset, ret, errno);
}

ssize_t pread64(int fd, void *buf, size_t count, off_t offset)
{
	pread_fn fn = real_pread64();
	ssize_t ret = (fn ? fn : real_pread())(fd, buf, count, offset);
	return after_rw("pread", fd, buf, count, offset, ret, errno);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	ssize_t ret = real_pwrite()(fd, buf, count, offset);
	return after_rw("pwrite", fd, buf, count, offset, ret, errno);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
	pwrite_fn fn = real_pwrite64();
	ssize_t ret = (fn ? fn : real_pwrite())(fd, buf, count, offset);
	return after_rw("pwrite", fd, buf, count, offset, ret, errno);
}

/* read(2) is written down only on iommufd's event queues (a vEVENTQ's records, a fault queue's). */
ssize_t read(int fd, void *buf, size_t count)
{
	enum kind k = kind_of(fd);
	ssize_t ret = real_read()(fd, buf, count);
	if (k != K_VEVENTQ && k != K_FAULTQ)
		return ret;
	return after_rw("read", fd, buf, count, -1, ret, errno);
}

int eventfd(unsigned int initval, int flags)
{
	int ret = real_eventfd()(initval, flags);
	int err = errno;
	struct line *l;

	if (ret >= 0)
		set_kind(ret, K_EVENTFD);
	if (logging() && (l = &scratch()->line)) {
		l->len = 0;
		put(l, "eventfd initval=%u flags=0x%x", initval, (unsigned)flags);
		put_result(l, ret, err);
		emit(l);
	}
	errno = err;
	return ret;
}

/* At exit (exit(3), a return from main): the descriptors the kernel is about to close. */
__attribute__((destructor)) static void at_exit(void)
{
	struct line *l;
	int any = 0, pending;

	if (log_fd < 0 || !(l = &scratch()->line))
		return;
	/* First: looking at the completion rings may write lines of its own. */
	pending = pending_polls(-1);
	l->len = 0;
	put(l, "exit open=");
	for (int fd = 0; fd < MAX_FD; fd++) {
		enum kind k = kind_of(fd);
		if (k == K_NONE || k == K_EVENTFD)
			continue;
		put(l, "%s%s:%d", any ? "," : "", kind_names[k], fd);
		any = 1;
	}
	if (!any)
		put(l, "none");
	put_pending(l, pending);
	emit(l);
}
