/** SMMUv3 with its configuration in memory: stream table, STEs and CDs as bytes (IHI 0070). */
export * from './structures'
export * from './config'
export * from './events'
export * from './smmuv3'
