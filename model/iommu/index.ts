/** iommu layer: domains, the nesting request, attach/detach. */
export * from './domain'
export * from './core'
