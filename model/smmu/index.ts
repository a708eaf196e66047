/** SMMU layer: instances, stage selection, contexts. */
export * from './stage'
export * from './context'
export * from './instance'
export * from './translate'
