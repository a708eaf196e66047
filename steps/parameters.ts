/**
 * Parameter types: text in a feature becomes a typed value here, once.
 */
import { defineParameterType } from '@cucumber/cucumber'
import { CBAR_TYPE, isDomainAttr, isErrno, type CbarType, type DomainAttr, type DomainStage, type Errno, type HwTranslation, type RequestedStage } from '../model'

defineParameterType({
  name: 'addr',
  regexp: /0x[0-9a-fA-F_]+|\d+/,
  transformer: (s: string): number => Number(s.replaceAll('_', '')),
})

defineParameterType({
  name: 'errno',
  regexp: /E[A-Z0-9]+/,
  transformer: (s: string): Errno => {
    if (!isErrno(s)) throw new Error(`unknown errno name ${s}`)
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
