/*
 * arc_fixture.h - a two-hop ARC chain made by python3-dkim and the two
 * DNS key records that verify it, shared by the ARC verifier and sealer
 * tests. Included by one test program each; not a library header.
 */
#ifndef TEST_UNIT_AUTH_ARC_FIXTURE_H
#define TEST_UNIT_AUTH_ARC_FIXTURE_H

/* Generated with dkim.arc_sign (python3-dkim 1.1.4), CRLF line ends. */
static const char sealed_two[] =
    "ARC-Seal: i=2; cv=pass; a=rsa-sha256; d=forwarder.example; s=sel2;\r\n"
    " t=1704103300;\r\n"
    " b=M/oLx/UqytlpgLq63uxKrWzeUiQBUgPpC//Qh3xa5SWRR8we4ORwuLUoQzUaoFJ0AbUsc\r\n"
    " dEIeBU6Nc/wX1Wh5dheRr+ylitDvyxGOX1PcOkGledx5daF8fOVBxrvt37Yiu4mOfVD2EDn\r\n"
    " DmEASfSPz3F8cxp0NBIwVImLUPeCC+LHJkkXxVVsYjRcdH13txDc4F9OPIbcysTxFunnoxC\r\n"
    " 9c5PUX0VK44K5wvZIWCPILHkTskDOPTCARJF/kvtYMTnjRrcLHEJeSkM3WkFalNYA2xGQEK\r\n"
    " Ig3NJ51sUqJBrvcgjoKtMjvOLeuS1F/Wh4zRi+YMl72Gmpknw8iN9zzUoUUw==\r\n"
    "ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=forwarder.example; s=sel2; t=1704103300; h=from : to : subject :\r\n"
    " date : message-id; bh=lMdEYfJW7oApEZDYLAn3BTYsBxTOeEwhnsajpQtxGzE=;\r\n"
    " b=Jxla8WAvGCDrIzfW8WC2RlFlcTc2lA4cSu0K0Hri5xaQg02AILQ0/0KF1ANAVEggjfbTI\r\n"
    " U+3u/nO/ZRWhlyJSO44IIEUbh3mN1ya8OLFH71JI9qVVgs3f0c7PrwFt9LheWgs6OUeRlR9\r\n"
    " ZB4Ikirlm8x8uZH03jtXLk3Q9dBA2GN6uAsDm+e5Eu/qmyNniraHn6495nw7Dc/fnjC3u+H\r\n"
    " SzOEqh5guNMUQzXILMbTgM9kKRvH5VNX0q9SbohYE9/WXeJ1L1mXhpJSQeGXtthUneMXDLP\r\n"
    " dqr5d+5BJyNm8zz2cPHWXd/w24Qc8zqWL2tWaqt4McVWMgM0VUvQVG4uciAA==\r\n"
    "ARC-Authentication-Results: i=2; mx.forwarder.example; arc=pass;\r\n"
    "  spf=pass smtp.mailfrom=origin.example\r\n"
    "Authentication-Results: mx.forwarder.example; arc=pass; spf=pass smtp.mailfrom=origin.example\r\n"
    "ARC-Seal: i=1; cv=none; a=rsa-sha256; d=origin.example; s=sel1;\r\n"
    " t=1704103200;\r\n"
    " b=dASnLznlrJKB2MAHcbrVYwH0M8k1cQm06/hkSu4dYfWY8OnXnfLU6MAACdbF9mz8Ftnam\r\n"
    " e3HA5byZxK1/3Ws5+7kLO1ritTl0iqUYKBX++cKu2xH3DQQJ+TOARjpUQy6RSwOnA6Ps9/z\r\n"
    " rDHy3LxOapzXLRYsonlAIh4qCyfllFCxGCy+nJVGRSzjDbdy+ZgbVE+4H/8ZVeAQtVSm3nF\r\n"
    " d3/Qfxyqso/XaA3QcQV9e48/anfAg7xRMq1mL7QgHxRR9IjjerdsWwEc3Uzkv9oOvdaRd2x\r\n"
    " LiHAMFGhNX9t74AQZ+TsA5cmgBSUDhQkvvuwn1WlahYn/hQoSiuB8KGT7xXQ==\r\n"
    "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=origin.example; s=sel1; t=1704103200; h=from : to : subject : date :\r\n"
    " message-id; bh=lMdEYfJW7oApEZDYLAn3BTYsBxTOeEwhnsajpQtxGzE=;\r\n"
    " b=5PR7vWOEhKJHN0I8ZtpaAHIYa0XTPJcLoeuDgLggwNU66qVhSdJv71AYeooMGfNNkiWgw\r\n"
    " GK88h+IxIj2l/Ult9V1Cj5x6zJZdaNjoa0IpHe8/OJYT+obW0hO5GJXgkHSX8WG1EAy1VSl\r\n"
    " IB43zVyRKPjGF03tWYBqJlty9CG1t/1x3WW8+053cVyen91rj6cVd06+ZCZpcM7Y3hXxYBW\r\n"
    " lEi5Orc4pwUhlqN4JQrawq3eVnXfJ/T+UTt8O5oTiIWYIOipwhcP5hYKl1Y/Cnhe2VcsD+t\r\n"
    " +abXDg3DRlqHhNKVZ73f9OrOe8B4XJq7/qaXsyKOyTIH6s2bnVPceZFLMHlQ==\r\n"
    "ARC-Authentication-Results: i=1; mx.origin.example; dkim=none\r\n"
    "Authentication-Results: mx.origin.example; dkim=none\r\n"
    "From: Alice <alice@origin.example>\r\n"
    "To: bob@dest.example\r\n"
    "Subject: ARC test\r\n"
    "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <arc1@origin.example>\r\n"
    "\r\n"
    "Hello ARC.\r\n";

static const char key_origin[] =
    "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA6IlfmBirxSmEYyIaWQn4FJLsd7wZ1weaZ/pzbZD5vQnzMG9/8Y1DAI4PNwHeiI/ha1vfNdJBDhIzT+ZIJ6xmRWDHrg2wHdq5GkvbldRGCYV3VRG4kURH2yVP5Crbx2hMzgOV/a/Eyp5v2YlGWRRvR/c8dDElJxfik7qRQNSasWGrnYhhxdm2U4ZWCQFNZnddX8oT/IhSXrB2pn4CMrB4U9QwHkegCJ3wrCxoeyqiF5R2WoE/tmyv19qnkkT5sX9FQT27oVunEsjLu1SG6rRMsngFgl19jOGISet2eGhBsCRufriqCuqAbDNNhOiq8OPjiSHmorVzEUyWs2bkO1/Y+QIDAQAB";

static const char key_forwarder[] =
    "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAto+4j6ZAybOSGzKwn4UwPP7oFaUwqZWLExKiLY46mbsaQ6LdsdHtZaioc3KjfEhZgVLHxU1/GJLML8CqTDODifqGNIuuh2UId8LcaNmdvDpIWimt8tWxqdGhdP3nauc8xUnDxE4jhRAlCAJ0V4mOs00f9u1KV5bVd+Gxis0XI8kqZiWQ+c5e7Cu5SEB7XIENt3XcyMW4Y9e8M5QbnpIIkFZshgbiRpodc/oeH1zK1AA2ZjipfheSsZ6lmlnpGK3dNxqvPROOedJYUE55ocrEfBlezwZt25APESB5Daq/2eFv9Bt/1oy0CRqAGOdM+BkoXjgCKG233Nh/tgPf2j6Z0wIDAQAB";

#endif
