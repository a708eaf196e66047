/** The outcome of the last When-step: success, or an errno. */
import { Then, type DataTable } from '@cucumber/cucumber'
import { rowForKernel, type Errno } from '../model'
import type { TckWorld } from './world'
import { check } from './expect'

Then('the operation should succeed', function (this: TckWorld) {
  this.each((run) => check.deepEqual(run.last?.ok ? 'success' : run.last?.error, 'success'))
})

Then('the operation should fail with {errno}', function (this: TckWorld, errno: Errno) {
  this.each((run) => check.equal(run.last?.ok === false ? run.last.error.errno : 'success', errno))
})

/**
 * The last When-step's outcome, looked up in a by-kernel table (columns kernel, result; result is
 * ok or an errno): one table shows the answer's history, each profile checks its own row.
 */
Then('the outcome should be, by kernel:', function (this: TckWorld, table: DataTable) {
  this.each((run) => {
    const row = rowForKernel(table.hashes(), run.profile.name)
    check.equal(run.last?.ok === false ? run.last.error.errno : run.last?.ok === true ? 'ok' : 'nothing ran', row.result, `kernel row "${row.kernel}"`)
  })
})
