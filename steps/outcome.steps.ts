/** The outcome of the last When-step: success, or an errno. */
import { Then } from '@cucumber/cucumber'
import type { Errno } from '../model'
import type { TckWorld } from './world'
import { check } from './expect'

Then('the operation should succeed', function (this: TckWorld) {
  this.each((run) => check.deepEqual(run.last?.ok ? 'success' : run.last?.error, 'success'))
})

Then('the operation should fail with {errno}', function (this: TckWorld, errno: Errno) {
  this.each((run) => check.equal(run.last?.ok === false ? run.last.error.errno : 'success', errno))
})
