/** VFIO layer: the type1 container model and the backend interface features and replay use. */
export * from './uapi'
export * from './backend'
export * from './process'
export * from './type1'
export * from './container'
export * from './model-backend'
