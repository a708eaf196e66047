/*
 * smmu-nesting-tck guest agent: what agent.c (container, groups, edu) and iommufd.c (iommufd and
 * VFIO cdev calls) share.
 */
#ifndef TCK_AGENT_H
#define TCK_AGENT_H

#include <stddef.h>
#include <stdint.h>

/* QEMU's edu device (docs/specs/edu.txt): BAR0 registers and its 4 KiB DMA buffer. */
#define EDU_IDENT 0x00
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_RUN 0x1
#define EDU_CMD_TO_RAM 0x2 /* direction: 0 = RAM -> edu buffer, 1 = edu buffer -> RAM */
#define EDU_BUFFER 0x40000
#define EDU_BUFFER_SIZE 0x1000

/* An open VFIO device (edu) with its BAR0 mapped. */
struct device {
	int fd;
	volatile uint8_t *bar0;
	size_t bar_size;
};

/* The number of the command being run (its reply's <seq>). */
extern long seq;

const char *errno_name(int e);
void agent_error(const char *fmt, const char *arg);
int parse_u64(const char *s, uint64_t *out);
long page_size(void);
uint64_t round_up(uint64_t n, uint64_t to);
void sleep_ms(long ms);
/* The PCI device (e.g. 0000:00:01.0) an `alias G DEVICE` named; NULL: no alias for G. */
const char *alias_device(int name);
const char *edu_setup(struct device *dev);
void close_device(struct device *dev);
int edu_dma(struct device *dev, int to_ram, uint64_t iova, uint64_t size, const char **problem);

/* iommufd.c: `ifd <call>` and `require /dev/iommu` commands; closing a session's objects. */
void iommufd_command(char *line);
void iommufd_end_session(void);

#endif
