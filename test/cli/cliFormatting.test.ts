import { describe, expect, it } from "vitest";
import { summarizeAddresses } from "../../provider/cli/addressSummary.js";
import { subnetTree, treeLabel } from "../../provider/cli/subnetTree.js";
import { displayText } from "../../provider/cli/terminal.js";
import { percent, usageBar } from "../../provider/cli/usageBar.js";
import { escapeXml } from "../../provider/cli/xmlText.js";
import type { Subnet } from "../../provider/core/types.js";

describe("CLI formatting", () => {
  it("escapes the five XML characters and replaces characters XML forbids", () => {
    expect(escapeXml(`<a href="x">Tom & 'Jerry'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;");
    expect(escapeXml("a\u0001b\u001bc\ufffed\ud800e")).toBe("a\ufffdb\ufffdc\ufffdd\ufffde");
    expect(escapeXml("tab\tnewline\n😀 ok")).toBe("tab\tnewline\n😀 ok");
  });

  it("shows control and bidi-override characters from stored text instead of obeying them", () => {
    expect(displayText("evil\u001b[2Jowner\u202e")).toBe("evil\\u001b[2Jowner\\u202e");
    expect(displayText("stack/prod/web-1")).toBe("stack/prod/web-1");
  });

  it("computes exact percentages for any size and bars that show any use", () => {
    expect(percent(1n, 3n)).toBe("33.33%");
    expect(percent(0n, 10n)).toBe("0.00%");
    expect(percent(5n, 2n ** 64n)).toBe("<0.01%");
    expect(percent(1n, 0n)).toBe("-");
    expect(usageBar(5n, 2n ** 64n, 10)).toBe(`█${"░".repeat(9)} <0.01%`);
    expect(usageBar(10n, 10n, 4)).toBe("████ 100.00%");
  });

  it("summarizes addresses as runs", () => {
    expect(summarizeAddresses(["10.0.0.5", "10.0.0.3", "10.0.0.4", "10.0.0.9"])).toBe("10.0.0.3-10.0.0.5, 10.0.0.9 (4)");
    expect(summarizeAddresses(["10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.7"], 2)).toBe("10.0.0.1, 10.0.0.3, … (4)");
    expect(summarizeAddresses(["2001:db8::1"], 3, 300)).toBe("2001:db8::1, … (300)");
    expect(summarizeAddresses([])).toBe("");
  });

  it("orders subnets as a tree, children under their parent", () => {
    const subnet = (id: string, cidr: string, parentId: string | null) => ({ id, cidr, parentId }) as Subnet;
    const tree = subnetTree([subnet("1", "10.0.0.0/16", null), subnet("2", "10.1.0.0/16", null), subnet("3", "10.0.1.0/24", "1"), subnet("4", "10.0.1.0/28", "3"), subnet("5", "10.9.0.0/24", "99")]);
    expect(tree.map((entry) => treeLabel(entry))).toEqual(["10.0.0.0/16", "└ 10.0.1.0/24", "  └ 10.0.1.0/28", "10.1.0.0/16", "10.9.0.0/24"]);
  });
});
