/* Entry of the bare-metal SMMUv3 oracle agent: QEMU's -kernel enters here at EL1, MMU off. */
	.section .text.entry, "ax"
	.global _start
_start:
	ldr	x1, =__stack_top
	mov	sp, x1
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1], #8
	b	1b
2:	bl	agent_main
	/* PSCI SYSTEM_OFF through HVC (QEMU virt at EL1 without EL2/EL3 implements PSCI itself). */
	ldr	x0, =0x84000008
	hvc	#0
3:	wfi
	b	3b
