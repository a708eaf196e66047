/** Hardware layer: fixtures in, typed feature sets out. (../survey.ts runs the model on them.) */
export * from './features'
export * from './fixture'
export * from './registers'
export * from './catalogue'
