"""Which BLAS/LAPACK Spark's ALS runs on: native when the machine has one, Java when asked (as on Glue)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from musiclake import runtime
from musiclake.java17 import find_java17

NETLIB_JARS = ("blas-3.0.3.jar", "lapack-3.0.3.jar")


def _machine_has(library: str) -> bool:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    listing = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=False).stdout
    return f"{library} " in listing


def _netlib_instances(java_options: str) -> str:
    """The BLAS and LAPACK classes netlib picks in a fresh JVM started with ``java_options`` (jshell)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    classpath = ":".join(str(jars / name) for name in NETLIB_JARS)
    script = ('System.out.println(dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getSimpleName() + " " + '
              'dev.ludovic.netlib.lapack.LAPACK.getInstance().getClass().getSimpleName());\n/exit\n')
    jshell = find_java17() / "bin" / "jshell"
    if not jshell.exists():
        pytest.skip(f"no jshell in {jshell.parent} (a Java runtime without the JDK tools)")
    command = [str(jshell), "--feedback", "silent", "--class-path", classpath,
               *(f"-R{option}" for option in java_options.split())]
    done = subprocess.run(command, input=script, capture_output=True, text=True, timeout=120, check=True)
    found = re.search(r"\b(\w+BLAS) (\w+LAPACK)\b", done.stdout)
    assert found, f"jshell printed no BLAS/LAPACK classes: {done.stdout!r} {done.stderr!r}"
    return found.group(0)


def test_blas_setting_is_auto_or_java_and_java_adds_the_fallback_properties(tmp_path: Path):
    auto = runtime.LocalConfig.from_env({"MUSICLAKE_HOME": str(tmp_path)})
    java = runtime.LocalConfig.from_env({"MUSICLAKE_HOME": str(tmp_path), "MUSICLAKE_BLAS": "Java"})
    assert auto.blas == "auto" and "netlib" not in auto.driver_java_options
    assert java.blas == "java" and "-Ddev.ludovic.netlib.blas.nativeLib=" in java.driver_java_options
    assert java.driver_java_options.startswith(auto.driver_java_options)  # Derby home and logging kept
    with pytest.raises(runtime.RuntimeSetupError, match="MUSICLAKE_BLAS must be auto or java"):
        runtime.LocalConfig.from_env({"MUSICLAKE_HOME": str(tmp_path), "MUSICLAKE_BLAS": "mkl"})


def test_java_only_properties_make_netlib_fall_back_to_java():
    assert _netlib_instances(runtime.JAVA_ONLY_BLAS).split() == ["Java11BLAS", "F2jLAPACK"]


def test_the_session_reports_the_linear_algebra_it_runs_on(spark):
    found = runtime.linear_algebra(spark)
    native = _machine_has("libblas.so.3") and _machine_has("liblapack.so.3")
    assert found["kind"] == ("native" if native else "java")
    assert found["blas"] == ("JNIBLAS" if native else "Java11BLAS")
    assert found["lapack"] == ("JNILAPACK" if native else "F2jLAPACK")
