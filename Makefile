# Thin wrapper around meson for people used to make.
BUILD ?= build

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

# The README's two commands.
demo:
	tools/demo.sh

check:
	tools/check.sh

clean:
	rm -rf $(BUILD)

.PHONY: all demo check clean
