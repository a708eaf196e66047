/** Run the CLI's main() in this process, from the repository root, capturing what it prints. */
import { main } from '../../cli/main'
import { ROOT } from '../../model/root'

export { ROOT }

export async function runMain(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const cwd = process.cwd()
  process.chdir(ROOT)
  try {
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) })
    return { code, out, err }
  } finally {
    process.chdir(cwd)
  }
}
