/**
 * Parameter types: text in a feature becomes a typed value here, once.
 */
import { defineParameterType } from '@cucumber/cucumber'
import {
  CBAR_TYPE,
  ERRNO,
  isDomainAttr,
  isErrno,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  type CbarType,
  type DomainAttr,
  type DomainStage,
  type Errno,
  type HwTranslation,
  type RequestedStage,
} from '../model'
import { suggestion } from '../model/suggest'
import { ExpectationFailed } from './expect'

defineParameterType({
  name: 'addr',
  regexp: /0x[0-9a-fA-F_]+|\d+/,
  transformer: (s: string): number => Number(s.replaceAll('_', '')),
})

defineParameterType({
  name: 'errno',
  regexp: /E[A-Z0-9]+/,
  transformer: (s: string): Errno => {
    if (!isErrno(s)) throw new ExpectationFailed(`unknown errno name "${s}"${suggestion(s, Object.keys(ERRNO))}`)
    return s
  },
})

/** `the domain` (the last one created) or `domain "A"`. */
defineParameterType({
  name: 'domain',
  regexp: /the domain|domain "[^"]+"/,
  transformer: (s: string): string => (s === 'the domain' ? '' : s.slice('domain "'.length, -1)),
})

/** What a domain asks for: `stage 1` (the default) or `nested`. */
defineParameterType({
  name: 'request',
  regexp: /stage 1|nested/,
  transformer: (s: string): RequestedStage => (s === 'nested' ? 'NESTED' : 'S1'),
})

/** arm_smmu_domain->stage values. */
defineParameterType({
  name: 'stage',
  regexp: /S1|S2|NESTED/,
  transformer: (s: string): DomainStage => s as DomainStage,
})

defineParameterType({
  name: 'translation',
  regexp: /stage 1|stage 2/,
  transformer: (s: string): HwTranslation => s as HwTranslation,
})

defineParameterType({
  name: 'cbar',
  regexp: new RegExp(Object.keys(CBAR_TYPE).join('|')),
  transformer: (s: string): CbarType => s as CbarType,
})

/** An identifier that may be absent: a number, or `none`. */
defineParameterType({
  name: 'id',
  regexp: /none|\d+/,
  transformer: (s: string): number | undefined => (s === 'none' ? undefined : Number(s)),
})

defineParameterType({
  name: 'attr',
  regexp: /DOMAIN_ATTR_[A-Z0-9_]+/,
  transformer: (s: string): DomainAttr => {
    const name = s.slice('DOMAIN_ATTR_'.length)
    if (!isDomainAttr(name)) throw new Error(`unknown domain attribute ${s}`)
    return name
  },
})

/** A __u64 ioctl argument. */
defineParameterType({
  name: 'u64',
  regexp: /0x[0-9a-fA-F_]+|\d+/,
  transformer: (s: string): bigint => BigInt(s.replaceAll('_', '')),
})

/** A uapi extension / IOMMU type name, resolved per profile by the backend. */
defineParameterType({
  name: 'uapi',
  regexp: /VFIO_[A-Za-z0-9_]+/,
  transformer: (s: string): string => s,
})

/** MAP_DMA READ/WRITE flags, from the device's point of view. */
defineParameterType({
  name: 'access',
  regexp: /read-write|read-only|write-only/,
  transformer: (s: string): number =>
    ({ 'read-write': VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, 'read-only': VFIO_DMA_MAP_FLAG_READ, 'write-only': VFIO_DMA_MAP_FLAG_WRITE })[s] as number,
})

/**
 * A flags word by name, as the uapi names the bits without their prefix (VFIO_DMA_MAP_FLAG_READ is
 * `READ`, VFIO_DMA_UNMAP_FLAG_ALL is `ALL`): names and
 * raw bits joined by `|` (`READ|WRITE`, `READ|WRITE|0x80` for a bit no kernel defines), or `none`.
 */
function flagsType(name: string, bits: Readonly<Record<string, number>>): void {
  const word = `(?:${Object.keys(bits).join('|')}|0x[0-9a-fA-F]+)`
  defineParameterType({
    name,
    regexp: new RegExp(`none|${word}(?:\\|${word})*`),
    transformer: (s: string): number => {
      if (s === 'none') return 0
      return s.split('|').reduce((flags, f) => flags | (f.startsWith('0x') ? Number(f) : (bits[f] as number)), 0)
    },
  })
}

flagsType('mapFlags', { READ: VFIO_DMA_MAP_FLAG_READ, WRITE: VFIO_DMA_MAP_FLAG_WRITE, VADDR: VFIO_DMA_MAP_FLAG_VADDR })
flagsType('unmapFlags', { GET_DIRTY_BITMAP: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, ALL: VFIO_DMA_UNMAP_FLAG_ALL, VADDR: VFIO_DMA_UNMAP_FLAG_VADDR })

/** A list of IOVA ranges `0x0-0x7ffffff, 0x8100000-0xffffffffffff` (inclusive), or `none`. */
defineParameterType({
  name: 'ranges',
  regexp: /none|(?:0x[0-9a-fA-F]+-0x[0-9a-fA-F]+(?:, )?)+/,
  transformer: (s: string): { start: bigint; end: bigint }[] =>
    s === 'none'
      ? []
      : s.split(', ').map((r) => {
          const [start, end] = r.split('-') as [string, string]
          return { start: BigInt(start), end: BigInt(end) }
        }),
})

/** What a device does: `reads` or `writes`. */
defineParameterType({
  name: 'dmaOp',
  regexp: /reads|writes/,
  transformer: (s: string): 'read' | 'write' => (s === 'reads' ? 'read' : 'write'),
})

/** How a DMA ends: `succeed` or `fault`. */
defineParameterType({
  name: 'dmaOutcome',
  regexp: /succeed|fault/,
  transformer: (s: string): 'ok' | 'fault' => (s === 'succeed' ? 'ok' : 'fault'),
})
