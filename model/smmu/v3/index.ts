/** SMMUv3 with its configuration in memory: stream table, STEs and CDs as bytes (IHI 0070). */
export * from './structures'
export * from './config'
export * from './events'
export * from './fields'
export * from './stream-table'
export * from './contexts'
