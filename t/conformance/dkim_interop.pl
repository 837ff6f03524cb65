#!/usr/bin/perl
# DKIM interop, the Mail::DKIM side (Debian's libmail-dkim-perl; RSA only,
# Debian 12's Mail::DKIM has no Ed25519). t/conformance/dkim-interop.sh
# drives it.
#
#   dkim_interop.pl sign-batch < SPECS
#       Lines "IN<TAB>OUT<TAB>SIG[,SIG...]", SIG = rsa-sha256:SELECTOR:
#       DOMAIN:KEY:HCANON/BCANON; each SIG is added on top, in order. The
#       default header list, From oversigned ('+').
#   dkim_interop.pl verify-batch --port PORT < CASES
#       Lines "NAME<TAB>FILE<TAB>EXPECT", EXPECT one word per
#       DKIM-Signature field top to bottom: pass, fail or * (not checked).
#       Keys are looked up with Net::DNS at 127.0.0.1:PORT. One line out
#       per case: "ok<TAB>NAME" or "FAIL<TAB>NAME<TAB>why".
use strict;
use warnings;

use Crypt::OpenSSL::RSA;
use Mail::DKIM::DNS;
use Mail::DKIM::PrivateKey;
use Mail::DKIM::Signer;
use Mail::DKIM::Verifier;
use Net::DNS;

sub slurp {
	my ($path) = @_;
	open my $fh, '<:raw', $path or return;
	local $/;
	my $data = <$fh>;
	close $fh;
	return $data;
}

sub spew {
	my ( $path, $data ) = @_;
	open my $fh, '>:raw', $path or die "$path: $!\n";
	print {$fh} $data or die "$path: $!\n";
	close $fh or die "$path: $!\n";
}

# The b= values of the DKIM-Signature fields, top to bottom, FWS removed.
sub sig_bvalues {
	my ($msg) = @_;
	my ($head) = split /\015\012\015\012/, $msg, 2;
	$head .= "\015\012";
	my @b;
	while ( $head =~ /^DKIM-Signature:((?:[^\015]*\015\012)(?:[ \t][^\015]*\015\012)*)/mgi ) {
		my $v = $1;
		if ( $v =~ /(?:^|;)\s*b\s*=\s*([^;]*)/ ) {
			( my $b = $1 ) =~ s/[\015\012\t ]//g;
			push @b, $b;
		}
		else {
			push @b, '';
		}
	}
	return @b;
}

sub sign_batch {
	my $bad = 0;
	while ( my $line = <STDIN> ) {
		chomp $line;
		next if $line eq '';
		my ( $in, $out, $specs ) = split /\t/, $line;
		my $ok = eval {
			my $msg = slurp($in) // die "$in: $!\n";
			for my $spec ( split /,/, $specs ) {
				my ( $alg, $sel, $dom, $keyfile, $canon ) =
				  split /:/, $spec;
				die "Mail::DKIM here signs rsa-sha256 only\n"
				  if $alg ne 'rsa-sha256';
				my $pem = slurp($keyfile) // die "$keyfile: $!\n";
				# Crypt::OpenSSL::RSA reads PKCS#8 PEM;
				# Mail::DKIM's own File loader wants PKCS#1.
				my $rsa = Crypt::OpenSSL::RSA->new_private_key($pem);
				my $signer = Mail::DKIM::Signer->new(
					Algorithm => $alg,
					Method    => $canon,
					Domain    => $dom,
					Selector  => $sel,
					Key => Mail::DKIM::PrivateKey->load(
						Cork => $rsa),
				);
				$signer->extended_headers( { 'From' => '+' } );
				$signer->PRINT($msg);
				$signer->CLOSE;
				my $sig = $signer->signature
				  or die "no signature\n";
				my $field = $sig->as_string;
				$field =~ s/\015?\012/\015\012/g;
				$msg = $field . "\015\012" . $msg;
			}
			spew( $out, $msg );
			1;
		};
		if ( !$ok ) {
			$bad++;
			print STDERR "Mail::DKIM sign $out: $@";
		}
	}
	return $bad ? 1 : 0;
}

sub verify_batch {
	my ($port) = @_;
	my $res = Net::DNS::Resolver->new(
		nameservers => ['127.0.0.1'],
		port        => $port,
		recurse     => 1,
		retry       => 2,
		udp_timeout => 5,
		tcp_timeout => 5,
	);
	Mail::DKIM::DNS::resolver($res);
	$| = 1;
	while ( my $line = <STDIN> ) {
		chomp $line;
		next if $line eq '';
		my ( $name, $path, $expect ) = split /\t/, $line;
		my $msg = slurp($path);
		if ( !defined $msg ) {
			print "FAIL\t$name\tno message: $!\n";
			next;
		}
		my @bs = sig_bvalues($msg);
		my $v  = Mail::DKIM::Verifier->new;
		$v->PRINT($msg);
		$v->CLOSE;
		my %by_b;
		for my $s ( $v->signatures ) {
			my $d = $s->data // '';
			$d =~ s/[\015\012\t ]//g;
			my $r = $s->result // 'none';
			$r .= '(' . ( $s->result_detail // '' ) . ')'
			  if $r ne 'pass' && $r ne 'fail';
			$r =~ s/ /_/g;
			$by_b{$d} = $r;
		}
		my @got  = map { $by_b{$_} // 'missing' } @bs;
		my @want = split ' ', $expect;
		my $why;
		if ( @got != @want ) {
			$why = scalar(@got)
			  . " signatures, expected "
			  . scalar(@want) . ": @got";
		}
		else {
			for my $i ( 0 .. $#want ) {
				next if $want[$i] eq '*' || $want[$i] eq $got[$i];
				$why = "got @got, want $expect";
				last;
			}
		}
		print defined $why ? "FAIL\t$name\t$why\n" : "ok\t$name\n";
	}
	return 0;
}

my $cmd = shift @ARGV // '';
if ( $cmd eq 'sign-batch' && !@ARGV ) {
	exit sign_batch();
}
if ( $cmd eq 'verify-batch' && @ARGV == 2 && $ARGV[0] eq '--port' ) {
	exit verify_batch( $ARGV[1] );
}
die "usage: dkim_interop.pl sign-batch < SPECS\n"
  . "       dkim_interop.pl verify-batch --port PORT < CASES\n";
