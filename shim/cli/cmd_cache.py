"""`shim cache`: where the packer's cache is and how big (shim.pack.depcache); `shim cache clear` empties it.

    shim cache           the folder ($SHIM_CACHE_DIR, else $XDG_CACHE_HOME/lambda-shim, else ~/.cache/lambda-shim)
    shim cache clear     delete what it holds (an entry a running command uses is left, and said so)

It holds the installed requirements, the zips `shim invoke` and `shim serve` unpacked, and the
bytecode and compressed files of earlier packs.
"""


def configure(parser):
    parser.add_argument("action", nargs="?", choices=["clear"], help="clear: empty the cache")


def main(args):
    from shim.pack import depcache
    from shim.pack.packer import size

    root, total, entries = depcache.usage()
    if args.action == "clear":
        busy = depcache.clear()
        _, left, _ = depcache.usage()
        print(
            "Cleared %s: %s freed%s"
            % (
                root,
                size(max(total - left, 0)),
                "; %d entr%s in use by a running command left" % (busy, "y" if busy == 1 else "ies") if busy else "",
            )
        )
        return 0
    print(root)
    print(
        "  %s: %d set%s of installed requirements, %d unpacked zip%s (shim cache clear empties it)"
        % (
            size(total),
            entries["deps"],
            "" if entries["deps"] == 1 else "s",
            entries["trees"],
            "" if entries["trees"] == 1 else "s",
        )
    )
    return 0
