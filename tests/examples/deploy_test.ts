/**
 * The README's proxy deploy steps, run verbatim on a fresh clone of this repository (its
 * committed state, as CI has it) up to and including the dry run: `wrangler deploy --dry-run`
 * builds the Worker that `wrangler deploy` would upload, with the wrangler the project pins,
 * whatever Node the machine has.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const README = await Deno.readTextFile(`${ROOT}README.md`);

/** The commands of the block after the deploy-steps marker, up to the first `--dry-run`. */
function stepsUpToDryRun(): string[] {
  const block = README.match(/<!-- deploy-steps[^>]*-->\s*```sh\n([\s\S]*?)```/)?.[1];
  assert.ok(block, "README has no deploy-steps block");
  const commands = block.split("\n").map((line) => line.replace(/\s+#.*$/, "").trim()).filter(
    Boolean,
  );
  const dryRun = commands.findIndex((command) => command.includes("--dry-run"));
  assert.ok(dryRun >= 0, "the deploy steps have no dry run");
  return commands.slice(0, dryRun + 1);
}

Deno.test("deploy: the README's steps build the proxy Worker from a fresh clone", async () => {
  const clone = await Deno.makeTempDir({ prefix: "tracegate-clone-" });
  try {
    const cloned = await new Deno.Command("git", {
      args: ["clone", "--quiet", ROOT, clone],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(cloned.success, new TextDecoder().decode(cloned.stderr));
    let printed = "";
    for (const command of stepsUpToDryRun()) {
      const { success, stdout, stderr } = await new Deno.Command("bash", {
        args: ["-c", command],
        cwd: clone,
        env: { NO_COLOR: "1", WRANGLER_SEND_METRICS: "false" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decoder = new TextDecoder();
      printed = decoder.decode(stdout) + decoder.decode(stderr);
      assert.ok(success, `${command} failed:\n${printed}`);
    }
    assert.match(printed, /Total Upload: [\d.]+ KiB \/ gzip: [\d.]+ KiB/);
    assert.match(printed, /--dry-run: exiting now/);
  } finally {
    await Deno.remove(clone, { recursive: true });
  }
});
