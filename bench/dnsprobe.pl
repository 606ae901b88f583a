#!/usr/bin/perl
# bench/dnsprobe.pl SERVER PORT FQDN [VIP]: one DNS query (A FQDN) over UDP to
# SERVER:PORT, timed inside this process (microseconds; no process start in
# the timing).  The answer must be NOERROR with an A record; with VIP, that
# record must be VIP, and then VIP is pinged (ping -c 1, up to 10 tries)
# until the first echo reply.  Prints "us-to-answer us-to-first-reply A".
# Used by bench/bench.sh and scripts/demo.sh for a general node, which has
# no daemon status to ask: it only knows its DHCP-given DNS server.
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(time);

my ($server, $port, $name, $vip) = @ARGV;
die "usage: $0 SERVER PORT FQDN [VIP]\n" unless defined $name;
my $id = int(rand(65536));
my $q = pack('nnnnnn', $id, 0x0100, 1, 0, 0, 0);
$q .= pack('C', length $_) . $_ for split /\./, $name;
$q .= pack('Cnn', 0, 1, 1);
my $s = IO::Socket::INET->new(PeerAddr => $server, PeerPort => $port, Proto => 'udp')
	or die "socket: $!\n";
my $rin = '';
vec($rin, fileno($s), 1) = 1;
my $t0 = time;
$s->send($q) or die "send: $!\n";
my $ans;
for (;;) {
	my $left = 5 - (time - $t0);
	die "no DNS answer in 5 s\n" if $left <= 0 || !select(my $r = $rin, undef, undef, $left);
	defined $s->recv($ans, 4096) or die "recv: $!\n";
	last if length($ans) >= 12 && unpack('n', $ans) == $id;
}
my $t1 = time;
my ($rid, $flags, $qd, $an) = unpack('nnnn', $ans);
die sprintf("answer rcode %d\n", $flags & 15) if $flags & 15;
die "answer has no records\n" unless $an;
# Skip the question, then find the first A record.
my $off = 12;
my $skipname = sub {
	while ($off < length $ans) {
		my $l = unpack('C', substr($ans, $off, 1));
		if (($l & 0xc0) == 0xc0) { $off += 2; return }
		$off++;
		return if !$l;
		$off += $l;
	}
	die "truncated answer\n";
};
for (1 .. $qd) { $skipname->(); $off += 4 }
my $a;
for (1 .. $an) {
	$skipname->();
	die "truncated answer\n" if $off + 10 > length $ans;
	my ($type, $class, $ttl, $len) = unpack('nnNn', substr($ans, $off, 10));
	$off += 10;
	if ($type == 1 && $len == 4) { $a = join '.', unpack('C4', substr($ans, $off, 4)); last }
	$off += $len;
}
die "answer has no A record\n" unless defined $a;
die "answer is $a, not $vip\n" if defined $vip && $a ne $vip;
my $t2 = $t1;
if (defined $vip) {
	my $tries = 0;
	until (system("ping -n -c 1 -W 1 $vip >/dev/null 2>&1") == 0) {
		die "no ping reply from $vip\n" if ++$tries >= 10;
	}
	$t2 = time;
}
printf "%d %d %s\n", ($t1 - $t0) * 1e6, ($t2 - $t0) * 1e6, $a;
