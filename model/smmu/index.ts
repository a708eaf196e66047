/** SMMU layer: instances, stage selection, contexts, nesting, translation, fault reports. */
export * from './stage'
export * from './context'
export * from './instance'
export * from './translate'
export * from './guest'
export * from './events'
export * from './explain'
