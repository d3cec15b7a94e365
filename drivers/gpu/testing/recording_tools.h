// RecordingTools: stand-in nvidia-smi and nvidia-cuda-mps-control executables
// for tests. Each is a small /bin/sh script written into a temp directory;
// the real base::ProcessCommandRunner runs it, and it appends one line per
// invocation to <dir>/commands.log:
//
//   nvidia-smi -i GPU-x -c EXCLUSIVE_PROCESS
//   nvidia-cuda-mps-control -d | CUDA_VISIBLE_DEVICES=GPU-x CUDA_MPS_PIPE_DIRECTORY=...
//   CUDA_MPS_LOG_DIRECTORY=... nvidia-cuda-mps-control <<quit | CUDA_MPS_PIPE_DIRECTORY=...
//   CUDA_MPS_LOG_DIRECTORY=...
//
// (argv, then "<<" and the stdin text, then " |" and the CUDA_* environment
// the tool was given). The MPS stand-in keeps the daemon's state the way the
// real one shows it: "-d" creates <pipe dir>/control, "quit" removes it, and
// "get_server_list" exits 0 only while it exists. FailOn(pattern) makes every
// later invocation whose line contains `pattern` print an error and exit 3.
//
// Test-only; single-threaded.
#pragma once

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test/fakes/base/temp_dir.h"

namespace tessera::drivers::gpu::testing {

class RecordingTools {
 public:
  RecordingTools() {
    Write("nvidia-smi", R"SH(line="nvidia-smi"
for a in "$@"; do line="$line $a"; done
)SH");
    Write("nvidia-cuda-mps-control", R"SH(line="nvidia-cuda-mps-control"
for a in "$@"; do line="$line $a"; done
input=""
if [ "$1" != "-d" ]; then input=$(cat); line="$line <<$(echo $input)"; fi
)SH");
  }

  std::string nvidia_smi() const { return dir_.Sub("nvidia-smi"); }
  std::string mps_control() const { return dir_.Sub("nvidia-cuda-mps-control"); }
  const std::string& dir() const { return dir_.path(); }

  // The recorded lines, oldest first.
  std::vector<std::string> Commands() const {
    std::vector<std::string> out;
    std::ifstream in(dir_.Sub("commands.log"));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  void Clear() const { std::ofstream(dir_.Sub("commands.log"), std::ios::trunc); }
  // Later invocations whose line contains `pattern` fail (exit 3).
  void FailOn(const std::string& pattern) const {
    std::ofstream(dir_.Sub("fail"), std::ios::app) << pattern << "\n";
  }
  void ClearFailures() const { std::ofstream(dir_.Sub("fail"), std::ios::trunc); }

 private:
  void Write(const std::string& name, const std::string& argv_part) {
    const std::string path = dir_.Sub(name);
    std::ofstream f(path);
    f << "#!/bin/sh\n"
      << "dir='" << dir_.path() << "'\n"
      << argv_part << R"SH(envs=""
for v in CUDA_VISIBLE_DEVICES CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY; do
  eval "set=\${$v+x}"
  if [ -n "$set" ]; then eval "envs=\"\$envs $v=\${$v}\""; fi
done
if [ -n "$envs" ]; then line="$line |$envs"; fi
echo "$line" >> "$dir/commands.log"
if [ -s "$dir/fail" ] && printf '%s\n' "$line" | grep -qF -f "$dir/fail"; then
  echo "injected failure: $line" >&2
  exit 3
fi
)SH";
    if (name == "nvidia-cuda-mps-control") {
      f << R"SH(case "$1:$input" in
  -d:*) mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" && touch "$CUDA_MPS_PIPE_DIRECTORY/control" ;;
  *:get_server_list)
    if [ -e "$CUDA_MPS_PIPE_DIRECTORY/control" ]; then exit 0; fi
    echo "Cannot find MPS control daemon process" >&2; exit 1 ;;
  *:quit) rm -f "$CUDA_MPS_PIPE_DIRECTORY/control" ;;
esac
)SH";
    }
    f << "exit 0\n";
    f.close();
    ::chmod(path.c_str(), 0755);
  }

  tessera::testing::TempDir dir_;
};

}  // namespace tessera::drivers::gpu::testing
