# ctltap.py: helpers for the sipedgectl TAP tests (tests/ctl/*.test): run the
# binary in a private temporary directory, check exit codes and messages.
import atexit
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.dir = tempfile.mkdtemp(prefix='sipedgectl-test.')
        self.db = os.path.join(self.dir, 'policy.db')
        atexit.register(shutil.rmtree, self.dir, True)
        top = os.environ.get('top_builddir') or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), '..', '..')
        self.ctl = os.path.join(top, 'sipedgectl')
        if not os.access(self.ctl, os.X_OK):
            print('1..0 # SKIP no sipedgectl binary at %s' % self.ctl)
            sys.exit(0)

    def run(self, args, db=True, stdin=None, env=None):
        """Run sipedgectl [--db DB] ARGS; return (exit code, stdout, stderr)."""
        cmd = [self.ctl] + (['--db', self.db] if db else []) + list(args)
        e = dict(os.environ)
        e.pop('SIPEDGE_DB', None)
        e.pop('SUDO_USER', None)
        if env:
            e.update(env)
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                           cwd=self.dir, env=e, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print('ok %d - %s' % (self.n, name))
        else:
            self.failed += 1
            print('not ok %d - %s' % (self.n, name))
            for line in (diag or '').splitlines():
                print('# ' + line)
        sys.stdout.flush()
        return cond

    def check(self, args, rc=0, out=None, err=None, name=None, **kw):
        """Run and assert the exit code; out and err are regular expressions
        searched in stdout and stderr.  A failure must write exactly one line
        to stderr; a success writes nothing there.  Returns stdout."""
        code, so, se = self.run(args, **kw)
        name = name or ' '.join(args)
        name = name.replace('\n', '\\n')
        if len(name) > 100:
            name = name[:97] + '...'
        problems = []
        if code != rc:
            problems.append('exit %d, wanted %d' % (code, rc))
        if out is not None and not re.search(out, so, re.M):
            problems.append('stdout lacks /%s/' % out)
        if err is not None and not re.search(err, se, re.M):
            problems.append('stderr lacks /%s/' % err)
        if rc != 0 and len(se.splitlines()) != 1:
            problems.append('stderr is not one line')
        if rc == 0 and se != '':
            problems.append('stderr is not empty')
        if rc != 0 and se and not se.startswith('sipedgectl: '):
            problems.append('stderr does not start with "sipedgectl: "')
        self.ok(not problems, name, '\n'.join(problems + ['stdout: ' + so, 'stderr: ' + se]))
        return so

    def init(self):
        code, so, se = self.run(['db', 'init'])
        if code != 0:
            print('Bail out! db init failed: ' + se)
            sys.exit(1)

    def sql(self, statement, args=()):
        """Run SQL on the db directly (the daemon's side, or an admin's shell)."""
        con = sqlite3.connect(self.db)
        try:
            cur = con.execute(statement, args)
            rows = cur.fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def done(self):
        print('1..%d' % self.n)
        shutil.rmtree(self.dir, ignore_errors=True)
        sys.exit(1 if self.failed else 0)
