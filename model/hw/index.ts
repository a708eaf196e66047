/** Hardware layer: fixtures in, typed feature sets out. */
export * from './features'
export * from './fixture'
